"""Generated videos and their provenance (moodlab.video)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moodlab.core.models.base import Base
from moodlab.core.timeutil import utcnow


class Video(Base):
    """A generated video and its provenance: inputs, model, tracks and mood timeline."""

    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # video or slideshow
    path: Mapped[str] = mapped_column(Text)  # relative to the data dir, or absolute (--out)
    title: Mapped[str] = mapped_column(String(255), default="")  # the input's name as given
    mood: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)  # how long making it took
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("trained_models.id", ondelete="SET NULL")
    )
    snapshot_id: Mapped[int | None] = mapped_column(Integer)  # the model's, kept if it goes
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    inputs: Mapped[dict[str, Any]]  # {"files": [{"name", "sha256", "bytes"}]}
    report: Mapped[dict[str, Any]]  # tracks, segments, timeline, frames, settings, warnings
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
