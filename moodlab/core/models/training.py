"""The model registry: trained final models (moodlab.training)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moodlab.core.models.base import Base
from moodlab.core.timeutil import utcnow


class TrainedModel(Base):
    """A final model in the registry: its file, how it was made, how well it does."""

    __tablename__ = "trained_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    arch: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)  # relative to the data dir
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[int] = mapped_column(Integer, default=0)
    image_size: Mapped[int] = mapped_column(Integer, default=128)
    precision: Mapped[str] = mapped_column(String(32), default="float32")
    cv_scores: Mapped[dict[str, Any]]  # {"scores": [...]}
    cv_mean: Mapped[float | None] = mapped_column(Float)
    cv_std: Mapped[float | None] = mapped_column(Float)
    test_accuracy: Mapped[float | None] = mapped_column(Float)
    report: Mapped[dict[str, Any]]  # test metrics, confusion matrix, curves, settings, versions
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
