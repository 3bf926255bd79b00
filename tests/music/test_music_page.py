"""The Music page through AppTest: tracks by mood with players; the lead's extras."""

from __future__ import annotations

from sqlalchemy import select

from moodlab.core.models import Job, Track, TrackStatus
from tests.media import wav
from tests.test_pages import app, texts


def add_track(settings, database, name, mood, status=TrackStatus.CANDIDATE):
    (settings.music_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (settings.music_dir / name).write_bytes(wav(seconds=1.0))
    with database.session() as session:
        session.add(
            Track(
                path=name,
                title=name,
                mood=mood,
                intended_mood=mood,
                status=status,
                duration_s=1.0,
                license="CC0",
            )
        )


def test_tracks_stay_blind_to_an_annotator_until_they_have_voted(database, settings, annotator):
    from moodlab.music import library
    from moodlab.music import votes as track_votes

    add_track(settings, database, "Peaceful 1.wav", "Peaceful")
    add_track(settings, database, "Angry 1.wav", "Angry", TrackStatus.ACCEPTED)
    at = app(annotator).switch_page("pages/music.py").run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Not voted by you yet (2 left on Music votes)"]
    shown = texts(at)
    assert "Peaceful" not in shown and "Angry" not in shown
    assert not at.get("badge")  # no status either
    with database.session() as session:
        names = {t.name for t in library.shelf(session=session, actor=annotator).waiting}
    assert names <= {m.value.strip("*") for m in at.markdown} and len(at.get("audio")) == 2
    assert "Track 1" not in names and "Track 2" not in names
    assert not at.get("file_uploader"), "only the lead adds tracks"
    with database.session() as session:
        angry = session.scalar(select(Track.id).where(Track.mood == "Angry"))
        track_votes.vote_track(
            session=session, actor=annotator, settings=settings, track_id=angry, mood="Angry"
        )
    at = app(annotator).switch_page("pages/music.py").run()
    assert [s.value for s in at.subheader] == [
        "Not voted by you yet (1 left on Music votes)",
        "Angry (1)",
    ]
    assert "votes: Angry 1" in texts(at) and "Licence: CC0" in texts(at)


def test_the_lead_sees_tracks_grouped_by_mood(database, settings, lead):
    add_track(settings, database, "calm.wav", "Peaceful")
    add_track(settings, database, "loud.wav", "Angry", TrackStatus.ACCEPTED)
    at = app(lead).switch_page("pages/music.py").run()
    assert [s.value for s in at.subheader][-2:] == ["Angry (1)", "Peaceful (1)"]  # circle order


def offered_names(database, actor) -> list[str]:
    """The names Music votes shows ``actor`` for the tracks they have not voted on, in order."""
    from moodlab.music import library

    with database.session() as session:
        return [t.name for t in library.shelf(session=session, actor=actor).waiting]


def test_music_votes_are_blind_count_down_and_undo(database, settings, annotator):
    from moodlab.core.models import TrackVote
    from moodlab.music import votes as track_votes
    from moodlab.music.vote_outbox import TrackOutbox, apply_track_outbox

    add_track(settings, database, "Happy 1.wav", "Happy")
    add_track(settings, database, "Tired 1.wav", "Tired")
    first, second = offered_names(database, annotator)  # her own order and names
    at = app(annotator).switch_page("pages/music_votes.py").run()
    assert not at.exception  # the widget itself runs in the browser suite

    def offered():
        with database.session() as session:
            queue = track_votes.next_tracks(session=session, actor=annotator, limit=4)
            return [t.name for t in queue], track_votes.tracks_left(
                session=session, actor=annotator
            )

    assert offered() == ([first, second], 2)  # not "Happy 1", nor "Track 1"
    with database.session() as session:
        track_id = track_votes.next_tracks(session=session, actor=annotator, limit=1)[0].id
    outbox = TrackOutbox()
    entry = {"seq": 1, "track_id": track_id, "mood": "Peaceful", "listened_s": 1.0}
    apply_track_outbox(
        session_factory=database.session,
        actor=annotator,
        settings=settings,
        outbox=outbox,
        entries=[entry, {"seq": 2, "undo": True}],
    )
    assert outbox.error is None and outbox.undone == track_id
    with database.session() as session:
        assert not session.scalars(select(TrackVote)).first()
    assert offered() == ([first, second], 2)


def test_after_the_music_page_a_music_vote_cannot_be_undone(database, settings, annotator):
    """Before, Undo still worked after the Music page had shown the track's counts."""
    from moodlab.core.models import TrackVote
    from moodlab.music import votes as track_votes
    from moodlab.music.vote_outbox import TrackOutbox, apply_track_outbox

    add_track(settings, database, "Happy 1.wav", "Happy")
    add_track(settings, database, "Tired 1.wav", "Tired")
    with database.session() as session:
        track_id = track_votes.next_tracks(session=session, actor=annotator, limit=1)[0].id
    outbox = TrackOutbox()

    def send(entry):
        apply_track_outbox(
            session_factory=database.session,
            actor=annotator,
            settings=settings,
            outbox=outbox,
            entries=[entry],
        )

    send({"seq": 1, "track_id": track_id, "mood": "Peaceful", "listened_s": 1.0})
    with database.session() as session:
        assert track_votes.can_undo(session=session, actor=annotator, previous=outbox.last)
    at = app(annotator).switch_page("pages/music.py").run()
    assert "votes: Peaceful 1" in texts(at)  # the result she now knows
    send({"seq": 2, "undo": True})
    assert "is final" in outbox.error
    with database.session() as session:
        assert session.scalar(select(TrackVote.final_at)) is not None
        assert session.scalar(select(TrackVote.mood)) == "Peaceful"


def test_the_lead_can_start_the_default_library(database, settings, lead):
    at = app(lead).switch_page("pages/music.py").run()
    assert not at.exception
    assert "32 tracks of the default library are missing." in texts(at)
    [generate] = [b for b in at.button if b.label == "Generate default library"]
    generate.click().run()
    with database.session() as session:
        assert session.scalar(select(Job.kind)) == "music_generate"
