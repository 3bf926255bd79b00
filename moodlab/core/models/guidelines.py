"""The lab's annotation guidelines, versioned, and who has read which (moodlab.votes.guidelines)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from moodlab.core.models.base import Base
from moodlab.core.timeutil import utcnow


class GuidelinesVersion(Base):
    """One published version of the guidelines; never changed once written.

    ``moods`` maps each mood name to {"definition": one line, "text": the longer
    explanation, "examples": [image ids]}. Every vote records the version it was given
    under (``image_votes.guidelines_version``).
    """

    __tablename__ = "guideline_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    intro: Mapped[str] = mapped_column(Text, default="")
    moods: Mapped[dict[str, Any]]
    note: Mapped[str] = mapped_column(Text, default="")  # what changed, in the lead's words
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GuidelinesRead(Base):
    """The newest version of the guidelines a user has confirmed reading."""

    __tablename__ = "guideline_reads"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
