"""Annotators' votes on images, and the rounds of votes the lead closed (moodlab.votes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moodlab.core.models.base import Base
from moodlab.core.timeutil import utcnow


class ImageVote(Base):
    """One annotator's answer on one image: a mood name from moods.toml, or NULL for skip."""

    __tablename__ = "image_votes"
    __table_args__ = (
        UniqueConstraint("image_id", "annotator_id"),
        Index("ix_image_votes_annotator_id_updated_at", "annotator_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mood: Mapped[str | None] = mapped_column(String(32))  # NULL: skipped, which is no vote
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The guidelines version the answer was given under; NULL: before versions, or imported.
    guidelines_version: Mapped[int | None] = mapped_column(Integer)


class AnswerChange(Base):
    """One step in an annotator's answers on an image: given, changed, withdrawn, undone.

    The record that a change is not a silent overwrite, and what undo reads, so undo
    survives a reload (moodlab.votes.annotation). ``before``/``after``: whether an
    answer existed, and its mood (NULL with ``*_answered`` true is a skip).
    """

    __tablename__ = "answer_changes"
    __table_args__ = (Index("ix_answer_changes_annotator_id_id", "annotator_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))  # answer, change, withdraw, undo
    before_answered: Mapped[bool]
    before_mood: Mapped[str | None] = mapped_column(String(32))
    after_answered: Mapped[bool]
    after_mood: Mapped[str | None] = mapped_column(String(32))
    guidelines_version: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]


class VoteRound(Base):
    """A round of votes the lead closed by sending the image back (moodlab.votes.rounds)."""

    __tablename__ = "vote_rounds"
    __table_args__ = (UniqueConstraint("image_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)  # the round closed: 1 is the first votes
    reason: Mapped[str] = mapped_column(Text, default="")
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The newest snapshot then: the snapshots up to it no longer make the votes read-only.
    snapshot_horizon: Mapped[int] = mapped_column(Integer, default=0)
    tie_break: Mapped[str | None] = mapped_column(String(32))  # its tie-break: mood, "left out"


class ArchivedVote(Base):
    """A vote of a closed round, as it was: counted by nothing, never deleted."""

    __tablename__ = "archived_votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("vote_rounds.id", ondelete="CASCADE"), index=True
    )
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    annotator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    mood: Mapped[str | None] = mapped_column(String(32))  # NULL: a skip
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    guidelines_version: Mapped[int | None] = mapped_column(Integer)  # as on image_votes


class QueueOrder(Base):
    """The lead's choice of the order images reach annotators; the newest row holds.

    ``kind`` is "own" (each annotator's own stable order) or "model" (the images the
    active model is least sure of first, ``random_share`` of places drawn at random).
    Rows are never changed, so the choices made and when stay on record.
    """

    __tablename__ = "queue_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    random_share: Mapped[float] = mapped_column(Float, default=0.25)
    chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueueScore(Base):
    """How unsure a model is of an image, for the model-ordered queue (moodlab.votes.order).

    Written by training code (moodlab.training.queue_scores) for one model at a time,
    read by the queue: votes never import training. Never shown to annotators.
    """

    __tablename__ = "queue_scores"

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[int] = mapped_column(
        ForeignKey("trained_models.id", ondelete="CASCADE"), index=True
    )
    # 1 - the top probability: 0 sure, 7/8 a uniform guess over the eight moods.
    uncertainty: Mapped[float] = mapped_column(Float)
    # The image's place among the scored ones, 0 the least sure .. 1 the surest.
    rank: Mapped[float] = mapped_column(Float)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
