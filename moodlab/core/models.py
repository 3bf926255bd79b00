"""The ORM: every table of moodlab, in SQLAlchemy 2's typed declarative style.

Schema changes go through a new Alembic migration in migrations/versions;
tests/core/test_migrations.py fails when this file and the migrations drift apart.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from moodlab.core.timeutil import utcnow

# Named constraints: migrations drop and alter them by name (SQLite's batch mode needs them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (SQLite has no time zones), returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use moodlab.timeutil.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Role(enum.StrEnum):
    LEAD = "lead"
    ANNOTATOR = "annotator"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins counted per key ("name:lena", "address:10.0.0.7") in a window.

    An attempt reserves its slot with one conditional UPDATE before the password is
    checked (moodlab/core/auth.py), so parallel attempts cannot overshoot the limit.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)


class UserSession(Base):
    """A browser login: its cookie token and one-time ticket are stored as sha256 only."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    ticket_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    ticket_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    log_tail: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # A part of another job (a training run's fold): claimed and run like any job, and
    # stopped with its parent (docs/architecture.md, "Jobs").
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )

    created_by: Mapped[User | None] = relationship()


class Worker(Base):
    """A worker process that is or was alive; the UI warns when none is."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None]
    current_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))


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
    license: Mapped[str | None] = mapped_column(String(64))
    attribution: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Annotators who voted or skipped: kept by moodlab.votes.annotation so that an
    # annotator's queue is one index range scan, not a count over every vote.
    response_count: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the image is frozen into a dataset snapshot; its votes are read-only then.
    frozen_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_images_queue", "response_count", "id"),)


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


class TrackStatus(enum.StrEnum):
    GENERATED = "generated"  # made by moodlab for a mood; usable before any vote
    CANDIDATE = "candidate"  # added by the lab, waiting for votes
    ACCEPTED = "accepted"  # enough annotators agreed on its mood
    REJECTED = "rejected"


class Track(Base):
    """A background music track: generated by moodlab (moodlab.music) or added by the lab."""

    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)  # relative to the music dir
    title: Mapped[str] = mapped_column(String(255), default="")
    mood: Mapped[str | None] = mapped_column(String(32))  # accepted mood, else the intended one
    # The mood it was made or added for; a track whose acceptance is undone goes back to it.
    intended_mood: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=TrackStatus.CANDIDATE)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    license: Mapped[str | None] = mapped_column(String(64))
    attribution: Mapped[str | None] = mapped_column(Text)
    # Set for generated tracks only: unsigned 32-bit, so 64-bit in the database.
    seed: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)  # of the file
    sample_rate: Mapped[int | None] = mapped_column(Integer)  # the file's own rate, Hz
    tempo_bpm: Mapped[float | None] = mapped_column(Float)  # generated: exact; added: estimated
    loudness_lufs: Mapped[float | None] = mapped_column(Float)  # BS.1770 integrated loudness
    key: Mapped[str | None] = mapped_column(String(16))  # generated tracks: "A minor"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_generated(self) -> bool:
        return self.seed is not None


class TrackVote(Base):
    """One annotator's vote on a track: the mood it fits, or NULL for "not usable"."""

    __tablename__ = "track_votes"
    __table_args__ = (UniqueConstraint("track_id", "annotator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mood: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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


class Snapshot(Base):
    """A frozen dataset: its rules, counts and manifest hash never change."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rules: Mapped[dict[str, Any]]
    manifest_sha256: Mapped[str] = mapped_column(String(64))
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
