"""Shared fixtures: a real database per test, migrated, and users to act as.

The database is a fresh SQLite file, or, with MOODLAB_TEST_BACKEND=postgresql, a
fresh database on the PostgreSQL server at MOODLAB_TEST_POSTGRES_URL (created per
test, dropped after it). `make test` runs the suite once on each when that URL is
set; `.ci/with-postgres` starts a throwaway server and sets it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from moodlab.core import auth
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.migrations import upgrade
from moodlab.core.models import Role

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"

BACKEND = os.environ.get("MOODLAB_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("MOODLAB_TEST_POSTGRES_URL", "")
# In CI a PostgreSQL test that cannot run is a failure: .ci/run provides the server.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NO_POSTGRES = (
    "no PostgreSQL server for the tests: MOODLAB_TEST_POSTGRES_URL is not set"
    " (`.ci/with-postgres make test` starts one)"
)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: checks SQLite itself; not run on PostgreSQL")
    config.addinivalue_line(
        "markers", "postgresql_only: checks PostgreSQL itself; runs in the PostgreSQL pass"
    )
    if BACKEND not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"MOODLAB_TEST_BACKEND={BACKEND!r}: expected sqlite or postgresql")
    if BACKEND == "postgresql" and not POSTGRES_URL:
        raise pytest.UsageError(f"MOODLAB_TEST_BACKEND=postgresql, but {NO_POSTGRES}")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BACKEND == "postgresql" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="checks SQLite itself"))
        if BACKEND == "sqlite" and item.get_closest_marker("postgresql_only"):
            if POSTGRES_URL:
                reason = "runs in the PostgreSQL pass (MOODLAB_TEST_BACKEND=postgresql)"
                item.add_marker(pytest.mark.skip(reason=reason))
            elif not IN_CI:
                item.add_marker(pytest.mark.skip(reason=NO_POSTGRES))


def pytest_runtest_setup(item):
    if (
        BACKEND == "sqlite"
        and IN_CI
        and not POSTGRES_URL
        and item.get_closest_marker("postgresql_only")
    ):
        pytest.fail(NO_POSTGRES, pytrace=False)


@cache
def _postgres_admin() -> Engine:
    # Autocommit: CREATE and DROP DATABASE cannot run inside a transaction.
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; its URL. Dropped afterwards."""
    name = f"moodlab_test_{uuid.uuid4().hex[:12]}"
    with _postgres_admin().connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE ends the connections that workers and pools of the test still hold.
        with _postgres_admin().connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(tmp_path) -> Iterator[str]:
    """This test's own empty database: a SQLite file, or a PostgreSQL database."""
    if BACKEND == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'db' / 'moodlab.sqlite'}"


@pytest.fixture
def env(tmp_path, monkeypatch, database_url) -> dict[str, str]:
    """MOODLAB_* settings pointing at this test's own folder; also set in os.environ.

    Child processes (run_cli, workers, `moodlab serve`) inherit them, so they use
    the same database.
    """
    values = {
        "MOODLAB_DATABASE_URL": database_url,
        "MOODLAB_DATA_DIR": str(tmp_path / "data"),
        "MOODLAB_MUSIC_DIR": str(tmp_path / "music"),
        "MOODLAB_CACHE_DIR": str(tmp_path / "cache"),
        # Tests make their media in their own folder: users may make videos from it.
        "MOODLAB_VIDEO_INPUT_DIRS": str(tmp_path),
    }
    for key in list(os.environ):
        if key.startswith("MOODLAB_"):
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def settings(env) -> Settings:
    return Settings.from_env()


@pytest.fixture
def database(settings) -> Database:
    database = Database(settings.database_url)
    upgrade(database)
    yield database
    database.dispose()


def add_user(database: Database, name: str, role: Role) -> Actor:
    with database.session() as session:
        user = auth.create_user(
            session=session, actor=Actor.command_line(), name=name, role=role, password=PASSWORD
        )
        return Actor.of(user)


@pytest.fixture
def lead(database) -> Actor:
    return add_user(database, "lena", Role.LEAD)


@pytest.fixture
def annotator(database) -> Actor:
    return add_user(database, "anna", Role.ANNOTATOR)


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None, timeout=60):
    """Run `python -m moodlab ARGS` in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "moodlab", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=timeout,
    )


def run_job(settings: Settings, database: Database, actor: Actor, params):
    """Queue ``params``' job through the queue's checks and run it here, as the CLI does."""
    from moodlab.job_kinds import KINDS
    from moodlab.jobs.queue import enqueue
    from moodlab.jobs.worker import start_here

    return start_here(
        enqueue, settings=settings, database=database, actor=actor, params=params, kinds=KINDS
    )
