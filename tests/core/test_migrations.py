"""The schema changes only through migrations, and migrations match the models."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from moodlab.core import migrations as migrate
from moodlab.core.db import Database
from moodlab.core.models import Base, Image, ImageVote, Job, User
from tests.conftest import add_user

TABLES = {
    "users",
    "sessions",
    "login_throttles",
    "jobs",
    "workers",
    "images",
    "image_votes",
    "tracks",
    "track_votes",
}


def test_upgrade_from_empty_creates_every_table(settings):
    database = Database(settings.database_url)
    assert migrate.current_revision(database) is None
    assert not migrate.is_at_head(database)  # never migrated: no alembic_version table
    migrate.upgrade(database)
    assert set(inspect(database.engine).get_table_names()) >= TABLES
    assert migrate.current_revision(database) == migrate.head_revision()
    assert database.is_migrated()


def test_migration_files_are_named_by_revision_and_the_newest_is_the_head():
    # The schema check's fast path (migrations.is_at_head) reads the newest file's name.
    import re

    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    for revision in script.walk_revisions():
        named = re.fullmatch(r"\d{8}_(\d{4})_\w+\.py", revision.path.rsplit("/", 1)[-1])
        assert named and named.group(1) == revision.revision, revision.path
    assert migrate.newest_file_revision() == script.get_current_head()


def test_a_database_behind_or_ahead_of_the_files_is_not_at_head(database):
    from sqlalchemy import text

    assert migrate.is_at_head(database)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0011'"))
    assert not migrate.is_at_head(database)  # behind: alembic says so
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert not migrate.is_at_head(database)  # unknown to the files


def test_downgrade_to_base_and_upgrade_again_with_rows(database, lead):
    from moodlab.core.models import Role

    annotator = add_user(database, "anna", Role.ANNOTATOR)
    with database.session() as session:
        image = Image(sha256="a" * 64, width=640, height=480)
        session.add(image)
        session.flush()
        session.add(ImageVote(image_id=image.id, annotator_id=annotator.id, mood="Happy"))
        session.add(Job(kind="worker_check", params={}, created_by_id=lead.id))

    migrate.downgrade(database, "base")
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}

    migrate.upgrade(database)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        session.add(User(name="again", role="lead", password_hash="x"))
    assert database.is_migrated()


def test_models_and_migrations_do_not_drift(database):
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations; add a migration: {diff}"


def test_every_migration_has_a_downgrade():
    from alembic.script import ScriptDirectory

    from moodlab.core.paths import MIGRATIONS_DIR

    for revision in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions():
        source = revision.module.downgrade.__code__
        assert source.co_code, f"migration {revision.revision} has an empty downgrade"


def test_upgrading_fills_in_each_images_answer_count(settings):
    from sqlalchemy import text

    database = Database(settings.database_url)
    migrate.upgrade(database, "0002")
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, name, role, password_hash, active, created_at)"
                " VALUES (1, 'a', 'annotator', 'x', true, '2026-01-01'),"
                " (2, 'b', 'annotator', 'x', true, '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO images (id, sha256, phash, original_suffix, width, height, created_at)"
                " VALUES (1, :a, '', '', 100, 100, '2026-01-01'),"
                " (2, :b, '', '', 100, 100, '2026-01-01')"
            ),
            {"a": "a" * 64, "b": "b" * 64},
        )
        connection.execute(
            text(
                "INSERT INTO image_votes (image_id, annotator_id, mood, created_at, updated_at)"
                " VALUES (1, 1, 'Happy', '2026-01-01', '2026-01-01'),"
                " (1, 2, 'Tired', '2026-01-01', '2026-01-01')"
            )
        )
    migrate.upgrade(database)
    with database.session() as session:
        assert session.get(Image, 1).response_count == 2
        assert session.get(Image, 2).response_count == 0
