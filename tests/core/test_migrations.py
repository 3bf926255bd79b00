"""The schema changes only through migrations, and migrations match the models."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from moodlab.core import migrations as migrate
from moodlab.core.db import Database
from moodlab.core.migrations import include_name
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
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations; add a migration: {diff}"


def schema(database: Database) -> dict[str, dict[str, object]]:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    inspector = inspect(database.engine)
    found: dict[str, dict[str, object]] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        found[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], i["column_names"], bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(str(c["sqltext"]) for c in inspector.get_check_constraints(table)),
        }
    return found


def first_downgrade_that_does_not_undo_its_upgrade(config, database: Database, revisions):
    """Upgrade to each revision (oldest first) and downgrade again; the first revision
    whose downgrade leaves a schema other than the one before its upgrade, or None.

    The database starts at the first revision's parent; the check stops at a wrong
    downgrade, after which the schema is not what any revision expects. A downgrade
    that is only ``pass`` is wrong unless its upgrade changed no schema (data only).
    """
    from alembic import command

    for revision in revisions:
        before = schema(database)
        command.upgrade(config, revision.revision)
        command.downgrade(config, revision.down_revision or "base")
        if schema(database) != before:
            return revision.revision
        command.upgrade(config, revision.revision)
    return None


def oldest_first(config) -> list:
    from alembic.script import ScriptDirectory

    return list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))


def test_every_downgrade_undoes_its_upgrade(settings):
    database = Database(settings.database_url)
    config = migrate.alembic_config(database)
    assert (
        first_downgrade_that_does_not_undo_its_upgrade(config, database, oldest_first(config))
        is None
    )
    assert migrate.is_at_head(database)
    database.dispose()


def test_the_downgrade_check_catches_a_downgrade_that_only_passes(settings, tmp_path):
    import shutil

    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    head = migrate.head_revision()
    (folder / "versions" / "20990101_9999_a_table_never_dropped.py").write_text(
        f"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"


def upgrade():
    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    pass
"""
    )
    database = Database(settings.database_url)
    config = migrate.alembic_config(database)
    config.set_main_option("script_location", str(folder))
    migrate.upgrade(database)  # the real revisions, checked above
    newest = oldest_first(config)[-1:]
    assert first_downgrade_that_does_not_undo_its_upgrade(config, database, newest) == "9999"
    database.dispose()


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


def test_upgrading_merges_snapshots_of_one_manifest_into_the_oldest(settings):
    """Two leads freezing at once made duplicates before 0013; the oldest of each stays."""
    from sqlalchemy import text

    from moodlab.core.models import Snapshot, SnapshotMember, TrainedModel

    database = Database(settings.database_url)
    migrate.upgrade(database, "0012")
    when = "2026-01-01"
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO images (id, sha256, phash, original_suffix, width, height,"
                " created_at, response_count) VALUES (1, :a, '', '', 100, 100, :t, 0)"
            ),
            {"a": "a" * 64, "t": when},
        )
        for snapshot_id, manifest in ((1, "m" * 64), (2, "m" * 64), (3, "n" * 64), (4, "m" * 64)):
            connection.execute(
                text(
                    "INSERT INTO snapshots (id, created_at, rules, manifest_sha256, train_counts,"
                    " test_counts, disputed) VALUES (:id, :t, '{}', :m, '{}', '{}', 0)"
                ),
                {"id": snapshot_id, "t": when, "m": manifest},
            )
            connection.execute(
                text(
                    "INSERT INTO snapshot_members (snapshot_id, image_id, sha256, label, split,"
                    " tier, votes) VALUES (:id, 1, :a, 'Happy', 'train', 'train', '{}')"
                ),
                {"id": snapshot_id, "a": "a" * 64},
            )
        connection.execute(
            text(
                "INSERT INTO trained_models (id, arch, path, snapshot_id, active, params,"
                " image_size, precision, cv_scores, report, created_at)"
                " VALUES (1, 'deep', 'm.keras', 4, false, 0, 128, 'float32', '{}', '{}', :t)"
            ),
            {"t": when},
        )
    migrate.upgrade(database)
    with database.session() as session:
        assert list(session.scalars(select(Snapshot.id).order_by(Snapshot.id))) == [1, 3]
        assert sorted(session.scalars(select(SnapshotMember.snapshot_id))) == [1, 3]
        assert session.get(TrainedModel, 1).snapshot_id == 1
    database.dispose()


def test_upgrading_to_blind_music_votes_keeps_every_vote_and_seeds_every_user(settings):
    """0014 adds users.blind_seed without copying the users table: on SQLite a copy,
    dropped with foreign keys on, would delete every vote cascading from a user."""
    from sqlalchemy import text

    from moodlab.core.models import TrackVote

    database = Database(settings.database_url)
    migrate.upgrade(database, "0013")
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
                "INSERT INTO images (id, sha256, phash, original_suffix, width, height,"
                " created_at, response_count) VALUES (1, :a, '', '', 100, 100, '2026-01-01', 1)"
            ),
            {"a": "a" * 64},
        )
        connection.execute(
            text(
                "INSERT INTO image_votes (image_id, annotator_id, mood, created_at, updated_at)"
                " VALUES (1, 1, 'Happy', '2026-01-01', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO tracks (id, path, title, status, duration_s, created_at)"
                " VALUES (1, 't.wav', 't', 'candidate', 1.0, '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO track_votes (track_id, annotator_id, mood, created_at, updated_at)"
                " VALUES (1, 2, 'Tired', '2026-01-01', '2026-01-02')"
            )
        )
    migrate.upgrade(database)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ImageVote)) == 1
        vote = session.scalars(select(TrackVote)).one()
        assert vote.final_at == vote.updated_at  # shown before: final
        seeds = list(session.scalars(select(User.blind_seed)))
        assert len(seeds) == 2 and all(seeds) and len(set(seeds)) == 2
    database.dispose()
