"""Shared fixtures: a real database per test, migrated, and users to act as.

The database is a fresh SQLite file, or, with MOODLAB_TEST_BACKEND=postgresql, a
fresh database on the PostgreSQL server at MOODLAB_TEST_POSTGRES_URL (created per
test, dropped after it). `make test` runs the suite once on each when that URL is
set; `.ci/with-postgres` starts a throwaway server and sets it.

A test that asks for ``database`` gets a copy of a template that Alembic migrated once
per test process (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL): 0.2 ms instead of 0.3 s of migrations a test. The migrations themselves
are tested from an empty database (tests/core/test_migrations.py).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from functools import cache
from pathlib import Path
from unittest.mock import patch

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, select
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

# Production Argon2 (RFC 9106's low-memory profile) costs about a second a hash on a
# 2-core machine, and the fixtures make users by the dozen: tests hash with the
# cheapest parameters. tests/core/test_auth.py pins the production ones, which child
# processes (`moodlab serve`, the program) still use.
PRODUCTION_HASHER = auth._hasher
auth._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _scan_installed_components_once() -> None:
    """Streamlit's AppTest scans every installed package's metadata for custom
    components on each new AppTest (0.45 s of a 0.66 s page run here, 460 packages
    parsed); `moodlab serve` does it once at start. The installed packages do not change
    while the tests run, so the page tests scan once per test process."""
    from streamlit.components.v2 import manifest_scanner

    scanned = cache(manifest_scanner.scan_component_manifests)

    def scan_component_manifests(max_workers: int | None = None):
        return list(scanned(max_workers))

    manifest_scanner.scan_component_manifests = scan_component_manifests


_scan_installed_components_once()

BACKEND = os.environ.get("MOODLAB_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("MOODLAB_TEST_POSTGRES_URL", "")
# In CI a PostgreSQL test that cannot run is a failure: .ci/run provides the server.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The PostgreSQL pass leaves to the SQLite pass what a database cannot change
# (_sqlite_pass_covers); MOODLAB_TEST_POSTGRES_EVERY_TEST=1 runs every test there.
POSTGRES_EVERY_TEST = os.environ.get("MOODLAB_TEST_POSTGRES_EVERY_TEST", "") == "1"
NO_POSTGRES = (
    "no PostgreSQL server for the tests: MOODLAB_TEST_POSTGRES_URL is not set"
    " (`.ci/with-postgres make test` starts one)"
)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: checks SQLite itself; not run on PostgreSQL")
    config.addinivalue_line(
        "markers", "postgresql_only: checks PostgreSQL itself; runs in the PostgreSQL pass"
    )
    config.addinivalue_line(
        "markers",
        "every_backend: a browser test that the PostgreSQL pass runs too: it drives the worker"
        " and the job engine, which differ by database",
    )
    # Registered here too for the `alone` part, which runs without pytest-xdist.
    config.addinivalue_line("markers", "xdist_group(name): run on one pytest-xdist worker")
    if BACKEND not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"MOODLAB_TEST_BACKEND={BACKEND!r}: expected sqlite or postgresql")
    if BACKEND == "postgresql" and not POSTGRES_URL:
        raise pytest.UsageError(f"MOODLAB_TEST_BACKEND=postgresql, but {NO_POSTGRES}")


# How the Makefile finds the files with tests marked `alone` (ALONE_FILES), so that the
# `alone` part collects only them: the marker written in the test's own file.
ALONE_IN_SOURCE = re.compile(r"mark\.alone")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("alone") and not ALONE_IN_SOURCE.search(
            item.path.read_text(encoding="utf-8")
        ):
            raise pytest.UsageError(
                f"{item.nodeid} is marked alone, but not in its file: make test's alone"
                " part would not collect it (ALONE_FILES in the Makefile)"
            )
        if item.get_closest_marker("e2e"):
            # One server per browser-test module (tests/e2e/conftest.py): its tests go to
            # one xdist worker (`--dist loadgroup`), so that server starts once.
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
        if BACKEND == "postgresql" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="checks SQLite itself"))
        elif (
            BACKEND == "postgresql"
            and not POSTGRES_EVERY_TEST
            and (reason := _sqlite_pass_covers(item))
        ):
            item.add_marker(pytest.mark.skip(reason=reason))
        if BACKEND == "sqlite" and item.get_closest_marker("postgresql_only"):
            if POSTGRES_URL:
                reason = "runs in the PostgreSQL pass (MOODLAB_TEST_BACKEND=postgresql)"
                item.add_marker(pytest.mark.skip(reason=reason))
            elif not IN_CI:
                item.add_marker(pytest.mark.skip(reason=NO_POSTGRES))


def _sqlite_pass_covers(item) -> str | None:
    """Why the PostgreSQL pass leaves ``item`` to the SQLite pass; None where it runs it.

    What a second database can change is what the database does: the service, page and
    job tests run on both. A test that touches no database (it asks for no
    ``database_url``, the fixture every database comes from) gives the same answer twice,
    and a browser test adds the browser, which the database does not change, except where
    it drives the worker and the job engine (``every_backend``).
    """
    if item.get_closest_marker("postgresql_only"):
        return None
    if item.get_closest_marker("e2e"):
        if item.get_closest_marker("every_backend"):
            return None
        return "a browser test of pages: the SQLite pass runs it, their services run here"
    if "database_url" not in item.fixturenames:
        return "touches no database: the SQLite pass runs it"
    return None


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


def postgres_url(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


@contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database for one test, empty or a copy of ``template``; its URL.
    Dropped afterwards."""
    name = f"moodlab_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with _postgres_admin().connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield postgres_url(name)
    finally:
        # FORCE ends the connections that workers and pools of the test still hold.
        with _postgres_admin().connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def checkpoint(database: Database) -> None:
    """Everything of a SQLite database in its main file, so that copying that file copies
    it all."""
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def migrate_template(url: str) -> None:
    """Migrate the database at ``url`` to the head and close every connection to it."""
    template = Database(url)
    try:
        upgrade(template)
        if BACKEND == "sqlite":
            checkpoint(template)
    finally:
        template.dispose()


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Put back the test process's ``__main__`` after each test.

    Streamlit's script runner (AppTest) installs the page script as ``sys.modules
    ["__main__"]`` and leaves it there; a child started later with multiprocessing's
    "spawn" would then run app.py as its main module before its target.
    """
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Iterator[str]:
    """A database migrated to the head once per test process: a SQLite file's path, or
    a PostgreSQL database's name (each xdist worker has its own)."""
    if BACKEND == "postgresql":
        with postgres_database() as url:
            migrate_template(url)
            yield make_url(url).database or ""
    else:
        path = tmp_path_factory.mktemp("template") / "moodlab.sqlite"
        migrate_template(f"sqlite:///{path}")
        yield str(path)


@pytest.fixture
def database_url(request, tmp_path) -> Iterator[str]:
    """This test's own database: a SQLite file, or a PostgreSQL database. Empty, or,
    when the test also asks for ``database``, a copy of the migrated template."""
    template = (
        request.getfixturevalue("migrated_template") if "database" in request.fixturenames else None
    )
    if BACKEND == "postgresql":
        with postgres_database(template) as url:
            yield url
    else:
        path = tmp_path / "db" / "moodlab.sqlite"
        if template:
            path.parent.mkdir()
            shutil.copyfile(template, path)
        yield f"sqlite:///{path}"


def workspace_env(folder: Path, database_url: str, video_inputs: Path) -> dict[str, str]:
    """MOODLAB_* settings for a workspace in ``folder``: its database, data, music and
    cache; videos may be made from files under ``video_inputs``."""
    return {
        "MOODLAB_DATABASE_URL": database_url,
        "MOODLAB_DATA_DIR": str(folder / "data"),
        "MOODLAB_MUSIC_DIR": str(folder / "music"),
        "MOODLAB_CACHE_DIR": str(folder / "cache"),
        # Tests make their media in their own folder: users may make videos from it.
        "MOODLAB_VIDEO_INPUT_DIRS": str(video_inputs),
        # No backbone features job after each test's imports (it would import Keras);
        # tests/training/test_features.py turns it on.
        "MOODLAB_FEATURES_ON_ARRIVAL": "0",
    }


def set_environment(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    """Exactly ``values`` of the MOODLAB_* settings in os.environ (undone after)."""
    for key in list(os.environ):
        if key.startswith("MOODLAB_"):
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def env(tmp_path, monkeypatch, database_url) -> dict[str, str]:
    """MOODLAB_* settings pointing at this test's own folder; also set in os.environ.

    Child processes (run_program, workers, `moodlab serve`) inherit them, so they use
    the same database.
    """
    values = workspace_env(tmp_path, database_url, video_inputs=tmp_path)
    set_environment(monkeypatch, values)
    return values


@pytest.fixture
def settings(env) -> Settings:
    return Settings.from_env()


@pytest.fixture
def database(settings) -> Iterator[Database]:
    """The test's database, migrated (a copy of the template: ``database_url``)."""
    database = Database(settings.database_url)
    yield database
    database.dispose()


# Workspaces that fixtures built once in this test process (SQLite only), by name:
# the folder with their database file and data folders, what the fixture returned, and
# the users the database held before the build.
_KEPT_WORKSPACES: dict[str, tuple[Path, object, list[str]]] = {}
_WORKSPACE_FOLDERS = ("data_dir", "music_dir", "cache_dir")


def _user_names(database: Database) -> list[str]:
    from moodlab.core.models import User

    with database.session() as session:
        return sorted(session.scalars(select(User.name)))


def kept_workspace(
    name: str,
    tmp_path_factory: pytest.TempPathFactory,
    database: Database,
    settings: Settings,
    build,
):
    """``build()`` run on this test's database and folders, or, on SQLite, once a test
    process: the later tests get copies of the database file and the data, music and
    cache folders it left (what the fixture's users and votes would make again, seconds
    of intake and answers a test), and what ``build`` returned the first time.

    ``build`` must start from the state that the test's fixtures before it made (its
    lead, say), which the copies then replace; it returns plain values (ids), not rows.
    """
    path = make_url(settings.database_url).database if BACKEND == "sqlite" else None
    if path is None:
        return build()
    users = _user_names(database)
    if name in _KEPT_WORKSPACES:
        folder, value, users_then = _KEPT_WORKSPACES[name]
        # A test whose fixtures made more than the first one's would lose it to the copy.
        assert users == users_then, f"{name}: {users} before the build, not {users_then}"
        database.dispose()  # its connections would keep reading the file replaced here
        for suffix in ("-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        shutil.copyfile(folder / "moodlab.sqlite", path)
        for field in _WORKSPACE_FOLDERS:
            if (folder / field).exists():
                shutil.copytree(folder / field, getattr(settings, field), dirs_exist_ok=True)
        return value
    value = build()
    checkpoint(database)
    folder = tmp_path_factory.mktemp(f"kept-{name}")
    shutil.copyfile(path, folder / "moodlab.sqlite")
    for field in _WORKSPACE_FOLDERS:
        if getattr(settings, field).exists():
            shutil.copytree(getattr(settings, field), folder / field)
    _KEPT_WORKSPACES[name] = (folder, value, users)
    return value


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
    """Run `moodlab ARGS` in this process, as the program does: ``main`` with its
    standard streams captured, its exit code returned (argparse's exit and a traceback
    included) as a CompletedProcess. Where the child process is the point (signals,
    the program's start-up and exit, its log lines), tests use ``run_program``."""
    from moodlab.cli.main import main

    stdout, stderr = io.StringIO(), io.StringIO()
    saved = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with (
            redirect_stdout(stdout),
            redirect_stderr(stderr),
            patch.object(sys, "stdin", io.StringIO(stdin)),
        ):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: usage errors and --help
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess(
        ["moodlab", *args], code, stdout.getvalue(), stderr.getvalue()
    )


def run_program(*args: str, stdin: str = "", env: dict[str, str] | None = None, timeout=60):
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


def log_of(database: Database, job_id: int) -> str:
    """Job ``job_id``'s log as text (its lines live in job_logs)."""
    from moodlab.jobs.queue import log_text

    with database.session() as session:
        return log_text(session=session, job_id=job_id, limit=10_000)
