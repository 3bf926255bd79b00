"""What a video job asks for: its params, their checks, and the model it names.

Light to import (no NumPy, no music, no Keras): the Video page, `moodlab video make`
and the start service read it before any work is done, and `moodlab video make`
may hand the job to a warm worker without importing what the work needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Role, TrainedModel
from moodlab.images.formats import IMAGE_EXTENSIONS
from moodlab.jobs.context import JobParams
from moodlab.video import paths as allowed
from moodlab.video.probe import VideoError

# A slideshow's fits (moodlab.video.slideshow.FITS; that module imports NumPy and Pillow).
FITS = ("fill", "pad")
NO_MODEL = "no trained model yet: train one on the Training page or with `moodlab train`"


@dataclass
class VideoParams(JobParams):
    """One video, or photos for a slideshow, to be given matching music."""

    inputs: list[str] = field(
        default_factory=list
    )  # one video, or photos for a slideshow (paths on this machine)
    names: dict[str, str] = field(default_factory=dict)  # path -> name to show (uploads)
    out: str | None = None
    model_id: int | None = None
    sample_fps: float | None = None  # None: MOODLAB_VIDEO_SAMPLE_FPS
    segments: bool = False
    seed: int = 0
    keep_audio: bool = False
    fit: str = "fill"  # a slideshow's photos: "fill" the frame (cropped) or "pad" (whole)

    KIND = "video"
    TITLE = "video"
    ROLE = Role.ANNOTATOR
    TIME_LIMIT_S = 2 * 3600.0  # a long upload at the sampling rate, with its muxing

    def validate(self, settings: Settings) -> None:
        check_inputs(self, settings)  # a missing, empty or mixed input is refused before a job
        fps = self.sample_fps or settings.video_sample_fps
        if fps <= 0:
            raise VideoError(f"the sample rate must be positive, got {fps} frames a second")
        if self.fit not in FITS:
            raise VideoError(
                f"unknown fit {self.fit!r}: photos either fill the frame (fill, cropped) or"
                " are shown whole on black (pad)"
            )

    def authorize(self, *, session: Session, actor: Actor, settings: Settings) -> None:
        allowed.check_inputs(self.inputs, self.names, actor=actor, settings=settings)
        allowed.check_output(self.out, session=session, actor=actor, settings=settings)

    def shown(self, path: str | Path) -> str:
        return self.names.get(str(path)) or Path(path).name


def human_bytes(count: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{int(count)} bytes"


def is_photo(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def check_inputs(params: VideoParams, settings: Settings) -> list[Path]:
    """The input files, refused early when missing, empty, too big, or mixed."""
    if not params.inputs:
        raise VideoError("no input: give one video, or photos for a slideshow")
    paths = [Path(p).expanduser() for p in params.inputs]
    photos = [p for p in paths if is_photo(p)]
    if photos and len(photos) != len(paths):
        raise VideoError("give one video, or only photos for a slideshow, not both")
    if not photos and len(paths) > 1:
        raise VideoError(f"one video at a time: got {len(paths)} videos")
    for path in paths:
        shown = params.shown(path)
        if not path.is_file():
            raise VideoError(f"{shown}: no such file")
        size = path.stat().st_size
        if size == 0:
            raise VideoError(f"{shown}: zero length (the file is empty)")
        if size > settings.video_max_bytes:
            raise VideoError(
                f"{shown}: {human_bytes(size)} is over the {human_bytes(settings.video_max_bytes)}"
                " limit (MOODLAB_VIDEO_MAX_BYTES)"
            )
    return paths


def resolve_model(*, session: Session, model_id: int | None) -> tuple[TrainedModel, list[str]]:
    """The model asked for, else the active one, else the newest (with a warning)."""
    if model_id is not None:
        entry = session.get(TrainedModel, model_id)
        if entry is None:
            raise NotFound(f"no model with id {model_id}")
        return entry, []
    entry = session.scalar(select(TrainedModel).where(TrainedModel.active.is_(True)))
    if entry is not None:
        return entry, []
    entry = session.scalar(select(TrainedModel).order_by(TrainedModel.id.desc()).limit(1))
    if entry is None:
        raise MoodlabError(NO_MODEL)
    return entry, [
        f"no model is active: used the newest, #{entry.id} (activate one on the Training page)"
    ]
