"""The Music votes page's services: the outbox a browser sends, and the audio it fetches."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moodlab.core.errors import NotFound
from moodlab.core.models import Role, Track, TrackVote
from moodlab.music import votes as track_votes
from moodlab.music.files import track_file, track_keys
from moodlab.music.vote_outbox import TrackOutbox, apply_track_outbox
from moodlab.ui.files import track_url
from tests.conftest import add_user
from tests.music.test_music_page import add_track
from tests.ui.test_files import get, login


def two_tracks(settings, database) -> list[int]:
    add_track(settings, database, "Happy 1.wav", "Happy")
    add_track(settings, database, "Tired 1.wav", "Tired")
    with database.session() as session:
        for track in session.scalars(select(Track)):
            track.duration_s = 30.0
        return list(session.scalars(select(Track.id).order_by(Track.id)))


def send(database, settings, actor, outbox, *entries) -> TrackOutbox:
    return apply_track_outbox(
        session_factory=database.session,
        actor=actor,
        settings=settings,
        outbox=outbox,
        entries=list(entries),
    )


def stored(database) -> list[tuple[int, str | None]]:
    with database.session() as session:
        return list(session.execute(select(TrackVote.track_id, TrackVote.mood)))


def test_a_vote_counts_once_and_only_after_five_seconds_heard(database, settings, annotator):
    first, _ = two_tracks(settings, database)
    outbox = TrackOutbox()
    send(
        database,
        settings,
        annotator,
        outbox,
        {"seq": 1, "track_id": first, "mood": "Happy", "listened_s": 2.0},
    )
    assert stored(database) == []
    assert "listen to at least 5 s of it (or to its end) first; 2.0 s were heard" in outbox.error
    assert outbox.acked == 1
    vote = {"seq": 2, "track_id": first, "mood": "Happy", "listened_s": 5.2}
    send(database, settings, annotator, outbox, vote)
    send(database, settings, annotator, outbox, vote)  # re-sent: already acknowledged
    assert stored(database) == [(first, "Happy")] and outbox.error is None


def test_a_track_shorter_than_five_seconds_is_heard_to_its_end(database, settings, annotator):
    first, _ = two_tracks(settings, database)
    with database.session() as session:
        session.get_one(Track, first).duration_s = 3.0
    outbox = send(
        database,
        settings,
        annotator,
        TrackOutbox(),
        {"seq": 1, "track_id": first, "mood": None, "listened_s": 2.6},
    )
    assert stored(database) == [(first, None)] and outbox.error is None  # not usable


def test_undo_takes_the_vote_back_and_offers_the_track_first(database, settings, annotator):
    first, second = two_tracks(settings, database)
    outbox = TrackOutbox()
    send(
        database,
        settings,
        annotator,
        outbox,
        {"seq": 1, "track_id": second, "mood": "Tired", "listened_s": 6},
        {"seq": 2, "undo": True},
    )
    assert stored(database) == [] and outbox.undone == second
    with database.session() as session:
        queue = track_votes.next_tracks(
            session=session, actor=annotator, limit=4, first=outbox.undone
        )
    assert [t.id for t in queue][0] == second and {t.id for t in queue} == {first, second}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("x", "expected an object"),
        ({"seq": 0, "undo": True}, "sequence number 0"),
        ({"seq": 1, "track_id": "1", "mood": "Happy", "listened_s": 9}, "track id '1'"),
        ({"seq": 1, "track_id": 1, "mood": 3, "listened_s": 9}, "mood 3"),
        ({"seq": 1, "track_id": 1, "mood": "Happy"}, "seconds heard None"),
        ({"seq": 1, "track_id": 99, "mood": "Happy", "listened_s": 9}, "no track with id 99"),
        ({"seq": 1, "track_id": 1, "mood": "Sleepy", "listened_s": 9}, "Sleepy"),
    ],
)
def test_a_malformed_entry_is_refused_with_its_reason(
    database, settings, annotator, entry, message
):
    two_tracks(settings, database)
    outbox = send(database, settings, annotator, TrackOutbox(), entry)
    assert message in outbox.error and stored(database) == []


def test_the_audio_address_is_each_annotators_own(database, settings, annotator):
    first, second = two_tracks(settings, database)
    other = add_user(database, "ben", Role.ANNOTATOR)
    with database.session() as session:
        mine = {
            t.id: t.code for t in track_votes.next_tracks(session=session, actor=annotator, limit=4)
        }
        theirs = {
            t.id: t.code for t in track_votes.next_tracks(session=session, actor=other, limit=4)
        }
        # The widget's address for a track is the one the file route and the Music page use.
        assert track_keys(session=session, actor=annotator) == mine
        path = track_file(session=session, actor=annotator, settings=settings, key=mine[first])
        assert path == (settings.music_dir / "Happy 1.wav").resolve()
        assert mine[first] != theirs[first] and str(first) not in mine[first]
        with pytest.raises(NotFound):
            track_file(session=session, actor=annotator, settings=settings, key=theirs[first])
        # A row that points out of the music dir, at a file that is there.
        (settings.music_dir.parent / "outside.wav").write_bytes(b"RIFF")
        session.get_one(Track, second).path = "../outside.wav"
        with pytest.raises(NotFound):
            track_file(session=session, actor=annotator, settings=settings, key=mine[second])


def test_the_route_serves_a_track_to_its_logged_in_annotator_only(database, settings, annotator):
    two_tracks(settings, database)
    other = add_user(database, "ben", Role.ANNOTATOR)
    with database.session() as session:
        code = track_votes.next_tracks(session=session, actor=annotator, limit=1)[0].code
    token = login(database, annotator)
    served = get(track_url(code), token)
    assert served.status == 200 and served.body.startswith(b"RIFF")
    assert served.headers["content-type"].startswith("audio/")
    assert get(track_url(code)).status == 401  # no login
    assert get(track_url(code), "not-a-session").status == 401
    assert get(track_url(code), login(database, other)).status == 404  # another's code
    assert get(track_url("a" * 20), token).status == 404  # no such code
