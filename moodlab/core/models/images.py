"""Stored images and their provenance (moodlab.images)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moodlab.core.models.base import Base
from moodlab.core.timeutil import utcnow


class Image(Base):
    """A candidate image: the original file plus its display copy and training thumbnail.

    Files live in the content store under the sha256 of the original bytes
    (see moodlab.images.intake for the three paths).
    """

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # 64-bit perceptual hash (imagehash.phash) as 16 hex digits, for near-duplicates.
    phash: Mapped[str] = mapped_column(String(16), index=True, default="")
    # The 4x4 grid's mean colours in CIELAB as 96 hex digits (moodlab.images.similarity):
    # near-duplicates must be near in colour too. Empty for images stored before it.
    colour_layout: Mapped[str] = mapped_column(String(96), default="")
    original_suffix: Mapped[str] = mapped_column(String(8), default="")
    width: Mapped[int]  # after EXIF orientation
    height: Mapped[int]
    source_url: Mapped[str | None] = mapped_column(Text)  # where the file came from
    page_url: Mapped[str | None] = mapped_column(Text)  # the page that showed it
    alt_text: Mapped[str | None] = mapped_column(Text)
    # What an import or upload called it: the path in the folder, or zip:member. NULL for
    # crawled images (their source_url says where they came from) and older rows.
    original_name: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(String(64))
    attribution: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Annotators who voted or skipped: kept by moodlab.votes.annotation so that an
    # annotator's queue is one index range scan, not a count over every vote.
    response_count: Mapped[int] = mapped_column(Integer, default=0)
    # The votes of its most and second most voted mood, kept beside response_count: from
    # the three the queue tells an image whose remaining answers cannot change its tier
    # (moodlab.votes.quorum.settled) without counting votes.
    top_votes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    second_votes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when the image is frozen into a dataset snapshot; its votes are read-only then.
    frozen_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_images_queue", "response_count", "id"),)
