"""Frozen dataset snapshots, and the lead's tie-breaks and exclusions that shape new ones
(moodlab.datasets)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moodlab.core.models.base import Base
from moodlab.core.timeutil import utcnow


class TieBreak(Base):
    """The lead's decision on a disputed (2-2) image: one of the tied moods, or leave out."""

    __tablename__ = "tie_breaks"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), unique=True)
    mood: Mapped[str | None] = mapped_column(String(32))  # NULL: left out of every set
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImageExclusion(Base):
    """The lead's "leave this image out of new snapshots": who, when, why; lifted undoes it."""

    __tablename__ = "image_exclusions"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    excluded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    excluded_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None]  # NULL while the exclusion stands


class Snapshot(Base):
    """A frozen dataset: its rules, counts and manifest hash never change."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rules: Mapped[dict[str, Any]]
    # One snapshot per manifest: a second freeze of the same set gets the first one back.
    manifest_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    train_counts: Mapped[dict[str, Any]]
    test_counts: Mapped[dict[str, Any]]
    disputed: Mapped[int] = mapped_column(Integer, default=0)


class SnapshotMember(Base):
    """One image of a snapshot, with everything needed to rebuild the set without votes."""

    __tablename__ = "snapshot_members"
    __table_args__ = (UniqueConstraint("snapshot_id", "image_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="RESTRICT"))
    sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(32))
    split: Mapped[str] = mapped_column(String(8))  # where it is used: train or test
    tier: Mapped[str] = mapped_column(String(16))  # why: train, test or tie_break
    votes: Mapped[dict[str, Any]]  # mood -> votes at freezing time
