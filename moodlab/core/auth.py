"""Accounts, roles and logins.

Every service that changes or reveals something takes the acting user
(``actor``) and checks its role here, in the service layer: hiding a page is a
convenience, not the protection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound, PermissionDenied
from moodlab.core.models import LoginFailure, Role, User
from moodlab.core.timeutil import utcnow

# argon2id with the library's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
# Verified when the name is unknown, so that a wrong name takes as long as a
# wrong password and timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash("moodlab-dummy-password")

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MIN_PASSWORD_LENGTH = 8


class LoginFailed(MoodlabError):
    """Wrong name or password (deliberately not saying which)."""


class LoginThrottled(MoodlabError):
    """Too many failed logins for this name; try again later."""


@dataclass(frozen=True)
class Actor:
    """Who is calling a service: a logged-in user, or the local command line."""

    id: int | None
    name: str
    role: Role

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(id=user.id, name=user.name, role=Role(user.role))

    @classmethod
    def command_line(cls) -> Actor:
        """The `moodlab` CLI: whoever can run it can read the database file anyway."""
        return cls(id=None, name="command line", role=Role.LEAD)

    @property
    def is_lead(self) -> bool:
        return self.role == Role.LEAD


def require_role(actor: Actor, *roles: Role, action: str) -> None:
    """Raise PermissionDenied unless ``actor`` has one of ``roles``."""
    if actor.role not in roles:
        allowed = " or ".join(role.value for role in roles)
        raise PermissionDenied(
            f"{actor.name} ({actor.role.value}) may not {action}: it needs the {allowed} role"
        )


def user_id(actor: Actor, *, action: str) -> int:
    """The actor's user id, for what is recorded per user (votes): the command line has none."""
    if actor.id is None:
        raise PermissionDenied(f"{actor.name} has no user account, so it may not {action}")
    return actor.id


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise MoodlabError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )


def check_name_rules(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise MoodlabError(
            f"the user name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )


def count_users(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def _add_user(session: Session, name: str, role: Role, password: str) -> User:
    check_name_rules(name)
    check_password_rules(password)
    if session.scalar(select(User).where(func.lower(User.name) == name.lower())):
        raise MoodlabError(f"a user called {name!r} already exists")
    user = User(name=name, role=role.value, password_hash=hash_password(password), active=True)
    session.add(user)
    session.flush()
    return user


def create_first_lead(*, session: Session, name: str, password: str) -> User:
    """First-run set-up: create the first lead, only while no user exists at all."""
    if count_users(session=session) > 0:
        raise PermissionDenied("set-up is closed: moodlab already has users; log in instead")
    return _add_user(session, name, Role.LEAD, password)


def create_user(*, session: Session, actor: Actor, name: str, role: Role, password: str) -> User:
    require_role(actor, Role.LEAD, action="add users")
    return _add_user(session, name, Role(role), password)


def get_user(*, session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user called {name!r}")
    return user


def list_users(*, session: Session, actor: Actor) -> list[User]:
    require_role(actor, Role.LEAD, action="list users")
    return list(session.scalars(select(User).order_by(User.role, User.name)))


def count_active(*, session: Session, role: Role) -> int:
    query = select(func.count()).select_from(User).where(User.role == role, User.active)
    return session.scalar(query) or 0


def set_password(*, session: Session, actor: Actor, name: str, password: str) -> None:
    """A lead resets anyone's password; any user may change their own."""
    if actor.name != name:
        require_role(actor, Role.LEAD, action="reset another user's password")
    check_password_rules(password)
    user = get_user(session=session, name=name)
    user.password_hash = hash_password(password)
    session.execute(delete(LoginFailure).where(LoginFailure.name == name))


def set_active(*, session: Session, actor: Actor, name: str, active: bool) -> User:
    """Deactivate (no more logins; votes kept) or reactivate a user."""
    require_role(actor, Role.LEAD, action="activate or deactivate users")
    user = get_user(session=session, name=name)
    last_lead = user.role == Role.LEAD and count_active(session=session, role=Role.LEAD) <= 1
    if not active and user.active and last_lead:
        raise MoodlabError(f"{name} is the last active lead and cannot be deactivated")
    user.active = active
    return user


def _recent_failures(session: Session, name: str, since: datetime) -> list[datetime]:
    query = select(LoginFailure.at).where(LoginFailure.name == name, LoginFailure.at >= since)
    return sorted(session.scalars(query))


def authenticate(
    *, session: Session, settings: Settings, name: str, password: str, now: datetime | None = None
) -> Actor:
    """Check a name and password; throttle a name after repeated failures.

    After ``login_max_failures`` failures within ``login_lockout_seconds``, the
    name is refused until the oldest of them is that old, even with the right
    password: a guesser gets a handful of tries per lock-out window.
    """
    now = now or utcnow()
    window = timedelta(seconds=settings.login_lockout_seconds)
    failures = _recent_failures(session, name, now - window)
    if len(failures) >= settings.login_max_failures:
        wait = failures[-settings.login_max_failures] + window - now
        seconds = max(1, int(wait.total_seconds()))
        raise LoginThrottled(f"too many failed logins for {name!r}: try again in {seconds} s")
    user = session.scalar(select(User).where(User.name == name))
    if not _verify(user.password_hash if user else _DUMMY_HASH, password) or user is None:
        session.add(LoginFailure(name=name, at=now))
        # Committed here: the caller's session rolls back when LoginFailed escapes.
        session.commit()
        raise LoginFailed("wrong user name or password")
    if not user.active:
        raise LoginFailed(f"the account {name!r} is deactivated: ask the lab lead")
    session.execute(delete(LoginFailure).where(LoginFailure.name == name))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return Actor.of(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def refresh_actor(*, session: Session, actor: Actor) -> Actor | None:
    """The actor as the database has it now; None when deactivated or deleted."""
    if actor.id is None:
        return actor
    user = session.get(User, actor.id)
    if user is None or not user.active:
        return None
    return Actor.of(user)
