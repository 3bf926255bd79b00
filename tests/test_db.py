import pytest
from sqlalchemy import Engine, event, text

from moodlab.db import Database, _sqlite_pragmas, make_engine
from moodlab.errors import ConfigError
from moodlab.models import Image, ImageVote


def test_sqlite_connections_get_foreign_keys_wal_and_a_busy_timeout(database):
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


def test_the_pragma_listener_is_on_moodlabs_engine_not_on_every_engine(database):
    assert event.contains(database.engine, "connect", _sqlite_pragmas)
    assert not event.contains(Engine, "connect", _sqlite_pragmas)


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
