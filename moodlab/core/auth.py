"""Accounts, roles and logins.

Every service that changes or reveals something takes the acting user
(``actor``) and checks its role here, in the service layer: hiding a page is a
convenience, not the protection.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound, PermissionDenied
from moodlab.core.models import LoginThrottle, Role, User, UserSession
from moodlab.core.timeutil import utcnow

# argon2id with the library's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
# Verified when the name is unknown, so that a wrong name takes as long as a
# wrong password and timing does not tell which names exist. A constant made once
# with _hasher (hashing it at import cost every command 0.12 s); tests/core/test_auth.py
# checks that its parameters are still _hasher's, so it verifies as slowly as a real one.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$DI0QYVbXRSCcjgXGtzQ2HQ$0XpZnHc26d8deLkqcW8uDZw6vICDzxT55KQEG1s8Li0"  # noqa: E501, S105

# Set by `moodlab serve` (to the sha256 of a token it prints) when it listens beyond
# loopback on a fresh install: the first-run page then asks for the token.
SETUP_TOKEN_ENV = "MOODLAB_SETUP_TOKEN_SHA256"  # noqa: S105  (a variable name)

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MIN_PASSWORD_LENGTH = 8
# zxcvbn's score: 0-1 is a password found in its shipped lists of common passwords
# (30,000 of them), words and names, or one guessed in under a million tries.
MIN_PASSWORD_SCORE = 2


# The one answer to a failed login: it never says which part was wrong.
WRONG_LOGIN = "wrong user name or password"


class LoginFailed(MoodlabError):
    """Wrong name or password, or a deactivated account (deliberately not saying which)."""


class LoginThrottled(MoodlabError):
    """Too many failed logins for this name or address; try again later."""


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


def check_password_rules(password: str, name: str = "") -> None:
    """At least MIN_PASSWORD_LENGTH characters, and not a common or guessable password.

    zxcvbn (Dropbox's estimator) matches the password against its shipped frequency
    lists (common passwords, English words, names) with l33t, sequence, date and
    keyboard patterns; a password of "password1234"'s kind scores 1 and is refused.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise MoodlabError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    from zxcvbn import zxcvbn  # imported on use: its lists take 0.15 s to load

    found = zxcvbn(password[:100], user_inputs=[name, "moodlab"] if name else ["moodlab"])
    if found["score"] < MIN_PASSWORD_SCORE:
        why = found["feedback"]["warning"] or "it would be guessed in under a million tries"
        raise MoodlabError(
            f"the password is too easy to guess: {why.rstrip('.')}. Use a longer one,"
            " for example three or four uncommon words"
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
    check_password_rules(password, name)
    if session.scalar(select(User).where(func.lower(User.name) == name.lower())):
        raise MoodlabError(f"a user called {name!r} already exists")
    user = User(name=name, role=role.value, password_hash=hash_password(password), active=True)
    session.add(user)
    session.flush()
    return user


def setup_token_required() -> bool:
    """Whether the first-run page must ask for `moodlab serve`'s one-time token."""
    return bool(os.environ.get(SETUP_TOKEN_ENV))


def create_first_lead(
    *, session: Session, name: str, password: str, setup_token: str | None = None
) -> User:
    """First-run set-up: create the first lead, only while no user exists at all.

    When `moodlab serve` listens beyond this machine it sets a one-time token, printed
    in its terminal; then only someone who can read that terminal may claim the lab.
    """
    if count_users(session=session) > 0:
        raise PermissionDenied("set-up is closed: moodlab already has users; log in instead")
    expected = os.environ.get(SETUP_TOKEN_ENV)
    if expected:
        given = hashlib.sha256((setup_token or "").strip().encode()).hexdigest()
        if not hmac.compare_digest(given, expected):
            raise PermissionDenied(
                "wrong set-up token: use the one `moodlab serve` printed in its terminal"
            )
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
    check_password_rules(password, name)
    user = get_user(session=session, name=name)
    user.password_hash = hash_password(password)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == f"name:{name.lower()}"))
    # Every browser logged in as this user must log in again, with the new password.
    end_sessions(session=session, user=user.id)


def set_active(*, session: Session, actor: Actor, name: str, active: bool) -> User:
    """Deactivate (no more logins; votes kept) or reactivate a user."""
    require_role(actor, Role.LEAD, action="activate or deactivate users")
    user = get_user(session=session, name=name)
    last_lead = user.role == Role.LEAD and count_active(session=session, role=Role.LEAD) <= 1
    if not active and user.active and last_lead:
        raise MoodlabError(f"{name} is the last active lead and cannot be deactivated")
    user.active = active
    if not active:
        end_sessions(session=session, user=user.id)
    return user


def end_sessions(*, session: Session, user: int) -> None:
    """Log ``user`` out of every browser (moodlab/core/sessions.py)."""
    session.execute(delete(UserSession).where(UserSession.user_id == user))


def _throttle_keys(settings: Settings, name: str, address: str | None) -> list[tuple[str, int]]:
    """The counters one attempt spends a slot of, with their limits, in lock order."""
    keys = [(f"name:{name.lower()}", settings.login_max_failures)]
    if address:
        keys.append((f"address:{address}", settings.login_max_failures_per_address))
    return sorted(keys)


def _reserve_attempt(
    session: Session, keys: list[tuple[str, int]], window: timedelta, now: datetime
) -> None:
    """Spend one slot of each counter before the password is checked, or raise LoginThrottled.

    Each counter is one row; the slot is taken by a conditional UPDATE (the row is
    locked, and PostgreSQL re-checks the WHERE after the lock), so parallel attempts
    cannot all read "4 failures" and all go on: 30 at once make at most the limit's
    worth of password checks. A slot stays spent when the password is wrong and is
    given back when it is right. The reservation commits in its own transaction.
    """
    bind = session.get_bind()
    insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    cutoff = now - window
    with Session(bind) as own, own.begin():
        for key, _limit in keys:
            own.execute(
                insert(LoginThrottle)
                .values(key=key, failures=0, window_start=now)
                .on_conflict_do_nothing(index_elements=["key"])
            )
        for key, limit in keys:
            stale = LoginThrottle.window_start < cutoff
            taken = own.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key, or_(stale, LoginThrottle.failures < limit))
                .values(
                    failures=case((stale, 1), else_=LoginThrottle.failures + 1),
                    window_start=case((stale, now), else_=LoginThrottle.window_start),
                )
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                started = own.scalar(
                    select(LoginThrottle.window_start).where(LoginThrottle.key == key)
                )
                wait = (started or now) + window - now
                seconds = max(1, int(wait.total_seconds()))
                what = key.partition(":")[2]
                who = f"{what!r}" if key.startswith("name:") else f"this address ({what})"
                # Raised inside the transaction: the slots taken above are given back.
                raise LoginThrottled(f"too many failed logins for {who}: try again in {seconds} s")


def _clear_throttle(session: Session, keys: list[tuple[str, int]]) -> None:
    """A right password: the name's count is cleared and the address's slot given back."""
    for key, _limit in keys:
        if key.startswith("name:"):
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
        else:
            session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
                .values(failures=LoginThrottle.failures - 1)
                .execution_options(synchronize_session=False)
            )


def authenticate(
    *,
    session: Session,
    settings: Settings,
    name: str,
    password: str,
    address: str | None = None,
    now: datetime | None = None,
) -> Actor:
    """Check a name and password; throttle a name, and a client address, after failures.

    After ``login_max_failures`` failures for one name (or
    ``login_max_failures_per_address`` from one client address) within
    ``login_lockout_seconds`` of the first, further attempts are refused, even with
    the right password, until that window has passed: a guesser gets a handful of
    tries per window. The check and the count are one atomic step
    (``_reserve_attempt``).
    """
    now = now or utcnow()
    window = timedelta(seconds=settings.login_lockout_seconds)
    keys = _throttle_keys(settings, name, address)
    _reserve_attempt(session, keys, window, now)
    user = session.scalar(select(User).where(User.name == name))
    right = _verify(user.password_hash if user else _DUMMY_HASH, password)
    # A deactivated account fails like a wrong password, whatever the password: a
    # message of its own after the right one would tell a guesser the password was
    # right. Its user learns why from the lead (docs/security.md).
    if not right or user is None or not user.active:
        raise LoginFailed(WRONG_LOGIN)
    _clear_throttle(session, keys)
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
