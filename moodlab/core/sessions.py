"""Browser logins that survive a reload (docs/security.md, "Sessions").

A login makes a row in ``sessions``. The browser tab that logged in knows the row's
id (Streamlit's server-side session state); the browser gets a random token in an
HttpOnly, SameSite=Strict cookie, set by moodlab's own HTTP route
(moodlab/ui/web.py). Streamlit's script cannot set a cookie, so the tab hands the
browser a one-time ticket (60 s), which the route exchanges for the token. Only the
sha256 of the ticket and of the token is stored: a copy of the database logs no one in.

A session ends when its user logs out, changes or is given a new password, is
deactivated, or is idle longer than ``MOODLAB_SESSION_IDLE_MINUTES``; and at the
latest ``MAX_AGE`` after the login.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, user_id
from moodlab.core.config import Settings
from moodlab.core.models import User, UserSession
from moodlab.core.timeutil import utcnow

COOKIE_NAME = "moodlab_session"
TICKET_LIFETIME = timedelta(seconds=60)
MAX_AGE = timedelta(days=30)
# last_seen_at is written at most this often: not on every rerun of every page.
TOUCH_EVERY = timedelta(seconds=60)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Resumed:
    """What checking a session found: the actor and session id, or why it ended."""

    actor: Actor | None
    session_id: int | None
    reason: str | None = None  # "expired", "deactivated", "ended"


def start(*, session: Session, actor: Actor, now: datetime | None = None) -> tuple[int, str]:
    """A new session for ``actor`` (just authenticated): its id and one-time ticket."""
    now = now or utcnow()
    ticket = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user_id(actor, action="log in to the web app"),
        ticket_sha256=digest(ticket),
        ticket_expires_at=now + TICKET_LIFETIME,
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return row.id, ticket


def redeem_ticket(*, session: Session, ticket: str, now: datetime | None = None) -> str | None:
    """The cookie token for a session's ticket: once, within its lifetime; else None.

    One conditional UPDATE: two requests with the same ticket cannot both win.
    """
    if not ticket:
        return None
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    result = session.execute(
        update(UserSession)
        .where(
            UserSession.ticket_sha256 == digest(ticket),
            UserSession.ticket_expires_at >= now,
            UserSession.token_sha256.is_(None),
        )
        .values(ticket_sha256=None, ticket_expires_at=None, token_sha256=digest(token))
        .execution_options(synchronize_session=False)
    )
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


def resume(
    *,
    session: Session,
    settings: Settings,
    session_id: int | None = None,
    token: str | None = None,
    now: datetime | None = None,
) -> Resumed:
    """The session by id (a tab that logged in) or by cookie token (a reload)."""
    now = now or utcnow()
    if session_id is not None:
        row = session.get(UserSession, session_id)
    elif token:
        row = session.scalar(select(UserSession).where(UserSession.token_sha256 == digest(token)))
    else:
        row = None
    if row is None:
        return Resumed(None, None, "ended")
    idle = timedelta(minutes=settings.session_idle_minutes)
    if now - row.last_seen_at > idle or now - row.created_at > MAX_AGE:
        session.delete(row)
        return Resumed(None, None, "expired")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        session.delete(row)
        return Resumed(None, None, "deactivated")
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return Resumed(Actor.of(user), row.id)


def end(*, session: Session, session_id: int | None = None, token: str | None = None) -> None:
    """Log out: the session's row goes, so its cookie opens nothing any more."""
    if session_id is not None:
        session.execute(delete(UserSession).where(UserSession.id == session_id))
    if token:
        session.execute(delete(UserSession).where(UserSession.token_sha256 == digest(token)))


def count_for(*, session: Session, user: int) -> int:
    return len(session.scalars(select(UserSession.id).where(UserSession.user_id == user)).all())
