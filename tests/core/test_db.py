import pytest
from sqlalchemy import Engine, event, text

from moodlab.core.db import Database, _sqlite_pragmas, make_engine
from moodlab.core.errors import ConfigError
from moodlab.core.models import Image, ImageVote


@pytest.mark.sqlite_only
def test_sqlite_connections_get_foreign_keys_wal_and_a_busy_timeout(database):
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


@pytest.mark.sqlite_only
def test_the_pragma_listener_is_on_moodlabs_engine_not_on_every_engine(database):
    assert event.contains(database.engine, "connect", _sqlite_pragmas)
    assert not event.contains(Engine, "connect", _sqlite_pragmas)


@pytest.mark.postgresql_only
def test_postgresql_connections_get_no_sqlite_pragmas(database):
    assert database.engine.dialect.name == "postgresql"
    assert database.engine.dialect.driver == "psycopg"
    assert not event.contains(database.engine, "connect", _sqlite_pragmas)
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_times_come_back_as_the_same_instant_in_utc(database):
    """Naive UTC in the column on both databases; aware UTC in Python."""
    from datetime import UTC, datetime, timedelta, timezone

    from moodlab.core.models import User

    seoul = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=9)))
    with database.session() as session:
        session.add(User(name="t", role="lead", password_hash="x", created_at=seoul))
    with database.session() as session:
        stored = session.query(User).one().created_at
    assert stored == seoul and stored.tzinfo == UTC
    assert stored.hour == 0  # 09:30 in Seoul is 00:30 UTC


def test_json_columns_keep_nested_values(database):
    from moodlab.core.models import Job

    params = {"seeds": ["http://x/é"], "depth": 2, "nested": {"ok": True, "none": None}}
    with database.session() as session:
        session.add(Job(kind="crawl", params=params))
    with database.session() as session:
        assert session.query(Job).one().params == params


def test_foreign_keys_are_enforced(database):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), database.session() as session:
        session.add(ImageVote(image_id=999, annotator_id=999, mood="Happy"))


def test_deleting_an_image_deletes_its_votes(database, annotator):
    with database.session() as session:
        image = Image(sha256="b" * 64, width=100, height=100)
        session.add(image)
        session.flush()
        session.add(ImageVote(image_id=image.id, annotator_id=annotator.id, mood="Tired"))
    with database.session() as session:
        session.delete(session.get(Image, image.id))
    with database.session() as session:
        assert session.query(ImageVote).count() == 0


def test_the_sqlite_folder_is_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'deeper' / 'lab.sqlite'}"
    Database(url).engine.connect().close()
    assert (tmp_path / "new" / "deeper" / "lab.sqlite").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [("not a url", "is not a database URL"), ("nosuchdb://x/y", "no driver installed")],
)
def test_bad_database_urls_are_named(url, message):
    with pytest.raises(ConfigError, match=message):
        make_engine(url)


def test_a_generated_tracks_largest_seed_fits(database):
    """Seeds are unsigned 32-bit: over PostgreSQL's signed INTEGER, so BIGINT."""
    from moodlab.core.models import Track

    with database.session() as session:
        session.add(Track(path="generated/x.mp3", seed=2**32 - 1))
    with database.session() as session:
        assert session.query(Track.seed).scalar() == 2**32 - 1
