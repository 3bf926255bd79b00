"""Alembic, driven from Python: `moodlab migrate` is `upgrade head`."""

from __future__ import annotations

from typing import Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from moodlab.core.paths import MIGRATIONS_DIR, PROJECT_ROOT


class Database(Protocol):
    """What migrations need of moodlab.core.db.Database (which imports this module)."""

    engine: Engine


def alembic_config(database: Database) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py takes the connection from here instead of opening its own.
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    command.upgrade(alembic_config(database), revision)


def downgrade(database: Database, revision: str = "base") -> None:
    command.downgrade(alembic_config(database), revision)


def head_revision() -> str | None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
