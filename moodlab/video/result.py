"""A video job's result as job cards read it (the Video page reads the Video row)."""

from __future__ import annotations

from dataclasses import dataclass

from moodlab.jobs.context import JobResult


@dataclass(frozen=True)
class VideoResult(JobResult):
    """A video job's result, as job cards read it (the Video page reads the Video row)."""

    kind: str | None = None
    duration_s: float | None = None
    mood: str | None = None
    confidence: float | None = None
    video_id: int | None = None

    def summary(self) -> str:
        if self.duration_s is None:
            return ""
        what = "slideshow" if self.kind == "slideshow" else "video"
        mood = f", {self.mood}" if self.mood else ""
        share = f" ({self.confidence:.0%})" if self.confidence is not None else ""
        return f"{self.duration_s:.1f} s {what}{mood}{share}"
