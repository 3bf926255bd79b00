"""What an intake run did: its report while it runs, its job result, and a failed job
when nothing at all was stored (moodlab.images.intake)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moodlab.core.text import label, plural
from moodlab.jobs.context import JobFailed, JobResult

# How many rejections a report lists one by one; the counts by reason are complete.
MAX_LISTED = 1000


@dataclass
class IntakeReport:
    """What one intake run did; ``as_dict`` is the CLI's and the job's JSON."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    rejected_by_reason: Counter = field(default_factory=Counter)
    duplicate_sources: list[dict[str, str]] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def reject(self, source: str, kind: str, reason: str) -> None:
        self.rejected_by_reason[kind] += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append({"source": source, "reason": reason, "kind": kind})

    def duplicate(self, source: str, reason: str, **near: Any) -> None:
        """``near``: for a near-duplicate, what the page needs to show both and keep both."""
        self.duplicates += 1
        if len(self.duplicate_sources) < MAX_LISTED:
            self.duplicate_sources.append({"source": source, "reason": reason, **near})

    def as_dict(self, job_id: int | None = None) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": list(self.rejected),
            "rejected_by_reason": dict(self.rejected_by_reason),
            "duplicate_sources": list(self.duplicate_sources[:MAX_LISTED]),
            "image_ids": list(self.image_ids[-200:]),
            "job_id": job_id,
            **self.extra,
        }


@dataclass(frozen=True)
class IntakeResult(JobResult):
    """A crawl's, an import's or an Openverse search's result, as the pages read it."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    duplicate_sources: list[dict[str, Any]] = field(default_factory=list)
    pages_fetched: int | None = None  # crawls
    images_found: int | None = None  # crawls
    files: int | None = None  # imports

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def near_duplicates(self) -> list[dict[str, Any]]:
        """Near-duplicate rejections whose candidate is held, so both can be shown and kept."""
        return [d for d in self.duplicate_sources if d.get("duplicate_of") and d.get("held")]

    def summary(self) -> str:
        parts = [
            f"{self.stored:,} stored",
            plural(self.duplicates, "duplicate"),
            f"{self.rejected_count:,} rejected",
        ]
        if self.pages_fetched is not None:
            parts.insert(0, plural(self.pages_fetched, "page"))
        return ", ".join(parts)


def job_result(report: IntakeReport, job_id: int | None, *, what: str = "input") -> dict[str, Any]:
    """The job's result, or JobFailed when nothing was stored and nothing was a duplicate:
    an intake whose every input was refused (or that found none) is no success. The
    message gives each reason's count and its first explanation, which names the fix."""
    result = report.as_dict(job_id)
    if report.stored or report.duplicates:
        return result
    if not report.rejected_by_reason:
        raise JobFailed(f"nothing stored: no {what} found", result)
    first: dict[str, str] = {}
    for row in report.rejected:
        first.setdefault(row["kind"], row["reason"])
    reasons = "; ".join(
        f"{label(kind)} ({n:,})" + (f": {first[kind]}" if kind in first else "")
        for kind, n in report.rejected_by_reason.most_common()
    )
    total = sum(report.rejected_by_reason.values())
    everything = "the one" if total == 1 else f"all {total:,}"
    raise JobFailed(
        f"nothing stored: {everything} {what}{'' if total == 1 else 's'} refused. {reasons}", result
    )
