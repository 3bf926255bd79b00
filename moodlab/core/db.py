"""Engine, sessions and migrations for moodlab's database.

SQLite is the embedded default; PostgreSQL works through the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from moodlab.core.config import Settings
from moodlab.core.errors import ConfigError, MoodlabError
from moodlab.core.migrations import current_revision, head_revision

# Milliseconds a connection waits for another writer before "database is locked":
# four annotators voting at once plus a worker must queue, not fail.
SQLITE_BUSY_TIMEOUT_MS = 30_000


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
        return current_revision(self) == head_revision()

    def check_migrated(self) -> None:
        """Raise unless the schema is at the newest migration (checked until it first is).

        Reading the migration scripts costs ~35 ms, too much to repeat on every vote;
        once a process has seen the schema up to date it trusts it.
        """
        if self._migrated:
            return
        if not inspect(self.engine).has_table("alembic_version") or not self.is_migrated():
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
