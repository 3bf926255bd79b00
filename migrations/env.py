"""Alembic environment: moodlab's metadata, batch mode for SQLite."""

from logging.config import fileConfig

from alembic import context

from moodlab.core.config import Settings
from moodlab.core.db import make_engine
from moodlab.core.migrations import include_name
from moodlab.core.models import Base, UTCDateTime

config = context.config
if config.config_file_name is not None and not config.attributes.get("engine"):
    # disable_existing_loggers=False, or the app's own loggers go quiet.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):
    """Write moodlab's UTCDateTime as a plain DateTime: migrations stay import-free."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(Settings.from_env().database_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things; batch mode recreates the table.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("moodlab migrations run online only: use `moodlab migrate`")
run_migrations_online()
