"""Alembic, driven from Python: `moodlab migrate` is `upgrade head`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine, inspect, text

from moodlab.core.paths import MIGRATIONS_DIR, PROJECT_ROOT

if TYPE_CHECKING:  # alembic is imported where it is used: 0.13 s a command otherwise
    from alembic.config import Config


class Database(Protocol):
    """What migrations need of moodlab.core.db.Database (which imports this module)."""

    engine: Engine


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether Alembic's comparison looks at ``name``: not the job engine's tables
    (Procrastinate's, on PostgreSQL), whose schema is the engine's, not moodlab's models."""
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))


def alembic_config(database: Database) -> Config:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py takes the connection from here instead of opening its own.
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database), revision)


def downgrade(database: Database, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(database), revision)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head()


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def newest_file_revision() -> str | None:
    """The revision of the newest migration file, from its name alone: the files are
    named DATE_NNNN_slug.py and NNNN is the file's revision id
    (tests/core/test_migrations.py checks this, and that the newest is alembic's head)."""
    numbers = [path.name.split("_")[1] for path in (MIGRATIONS_DIR / "versions").glob("*_*_*.py")]
    return max(numbers, default=None)


def is_at_head(database: Database) -> bool:
    """Whether the schema is at the newest migration (False for a database never migrated).

    The common case, a database at the newest file's revision, is one SELECT; anything
    else asks alembic, which reads every script (the answer either way is alembic's
    for any database not at that revision).
    """
    with database.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False  # never migrated
        stored = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    if len(stored) == 1 and stored[0][0] == newest_file_revision():
        return True
    return current_revision(database) == head_revision()
