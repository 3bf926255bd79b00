"""Users and their logins: roles, the login throttle, browser sessions (moodlab.core.auth,
moodlab.core.sessions)."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from moodlab.core.models.base import Base
from moodlab.core.timeutil import utcnow


class Role(enum.StrEnum):
    LEAD = "lead"
    ANNOTATOR = "annotator"


def new_blind_seed() -> str:
    """A user's own random seed: the order and the names their music votes show tracks by."""
    return secrets.token_hex(16)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Secret: from it and a track's id come the track's place in this user's queue and the
    # name it shows them (moodlab/music/blind.py); an id-based name would give the mood away.
    # NULL only for a row written without the model (moodlab.music.blind makes one then).
    blind_seed: Mapped[str | None] = mapped_column(String(32), default=new_blind_seed)


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
