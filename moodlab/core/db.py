"""Engine, sessions and migrations for moodlab's database.

SQLite is the embedded default; PostgreSQL works through the same code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from moodlab.core.config import Settings
from moodlab.core.errors import ConfigError, MoodlabError
from moodlab.core.migrations import is_at_head

# Milliseconds a connection waits for another writer before "database is locked":
# four annotators voting at once plus a worker must queue, not fail.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Pauses between tries of a short write that still found the database locked
# (docs/architecture.md, "Annotation"): about 1.5 s in all, then a clear error.
LOCKED_RETRY_DELAYS = (0.05, 0.15, 0.3, 0.5, 0.5)

T = TypeVar("T")
log = logging.getLogger("moodlab.db")


class DatabaseBusy(MoodlabError):
    """A write found the database locked by another writer, even after retrying."""


def _sqlite_pragmas(dbapi_connection, _connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers (pages) go on while one writer (a worker or a vote) writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and pragmas set."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"MOODLAB_DATABASE_URL={url!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(f"MOODLAB_DATABASE_URL={url!r}: no driver installed ({exc})") from None
    if engine.dialect.name == "sqlite":
        # On this engine only: a listener on the Engine class would fire for
        # PostgreSQL connections too.
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def is_locked_error(exc: BaseException) -> bool:
    """SQLite's "database is locked" (or "table is locked"), as SQLAlchemy raises it."""
    return isinstance(exc, OperationalError) and "is locked" in str(exc.orig or exc)


def retry_locked(
    write: Callable[[], T], *, what: str, delays: tuple[float, ...] | None = None
) -> T:
    """Run ``write`` (a whole transaction), again after a pause while the database is locked.

    After the last try it raises DatabaseBusy naming ``what`` instead of SQLite's raw
    "database is locked", so the caller (a page, the CLI, a job) can say what was not saved.
    The pauses are ``delays``, or LOCKED_RETRY_DELAYS as it is when the write runs.
    """
    if delays is None:
        delays = LOCKED_RETRY_DELAYS
    for attempt in range(len(delays) + 1):
        try:
            return write()
        except OperationalError as exc:
            if not is_locked_error(exc):
                raise
            if attempt == len(delays):
                raise DatabaseBusy(
                    f"the database is busy with another write: {what} was not saved;"
                    " try again in a moment"
                ) from None
            log.info("%s: database locked, retrying in %.2f s", what, delays[attempt])
            time.sleep(delays[attempt])
    raise AssertionError("unreachable")


def lock_for_write(session: Session) -> None:
    """Take SQLite's write lock now (BEGIN IMMEDIATE) unless this session already holds it.

    Reads after this see the newest data and no other writer can change it before the
    transaction ends: a count checked here still holds when the insert runs. PostgreSQL
    callers lock the rows they count instead (SELECT ... FOR UPDATE).
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    dbapi_connection = session.connection().connection.dbapi_connection
    if dbapi_connection is not None and not getattr(dbapi_connection, "in_transaction", True):
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self._migrated = False

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back on error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def is_migrated(self) -> bool:
        return is_at_head(self)

    def check_migrated(self) -> None:
        """Raise unless the schema is at the newest migration (checked until it first is).

        Reading the migration scripts costs ~35 ms, too much to repeat on every vote
        (``is_at_head`` mostly avoids it); once a process has seen the schema up to date
        it trusts it.
        """
        if self._migrated:
            return
        if not self.is_migrated():
            raise MoodlabError(
                f"the database {self.engine.url.render_as_string(hide_password=True)} is not"
                " up to date: run `moodlab migrate`"
            )
        self._migrated = True

    def dispose(self) -> None:
        self.engine.dispose()


@cache
def get_database(url: str) -> Database:
    """The process-wide Database for ``url`` (one pool per URL)."""
    return Database(url)


def database_from_settings(settings: Settings | None = None) -> Database:
    settings = settings or Settings.from_env()
    return get_database(settings.database_url)
