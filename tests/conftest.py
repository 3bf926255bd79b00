"""Shared fixtures: a real SQLite file per test, migrated, and users to act as."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moodlab import auth
from moodlab.auth import Actor
from moodlab.config import Settings
from moodlab.db import Database
from moodlab.migrate import upgrade
from moodlab.models import Role

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    """MOODLAB_* settings pointing at this test's own folder; also set in os.environ."""
    values = {
        "MOODLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'moodlab.sqlite'}",
        "MOODLAB_DATA_DIR": str(tmp_path / "data"),
        "MOODLAB_MUSIC_DIR": str(tmp_path / "music"),
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
