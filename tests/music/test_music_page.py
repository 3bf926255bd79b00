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

    add_track(settings, database, "Happy 1.wav", "Happy")
    add_track(settings, database, "Tired 1.wav", "Tired")
    first, second = offered_names(database, annotator)  # her own order and names
    at = app(annotator).switch_page("pages/music_votes.py").run()
    assert not at.exception
    assert [s.value for s in at.subheader] == [first]  # not "Happy 1", nor "Track 1"
    assert "2 tracks left" in texts(at) and "Happy 1" not in texts(at)
    assert at.button(key="track-undo").disabled
    at.button(key="track-Peaceful").click().run()
    assert [s.value for s in at.subheader] == [second] and "1 track left" in texts(at)
    at.button(key="track-undo").click().run()
    with database.session() as session:
        assert (
            session.scalar(select(TrackVote.mood)) is None
            and not session.scalars(select(TrackVote)).first()
        )
    assert [s.value for s in at.subheader] == [first] and "2 tracks left" in texts(at)


def test_after_the_music_page_a_music_vote_cannot_be_undone(database, settings, annotator):
    """Before, Undo still worked after the Music page had shown the track's counts."""
    from moodlab.core.models import TrackVote

    add_track(settings, database, "Happy 1.wav", "Happy")
    add_track(settings, database, "Tired 1.wav", "Tired")
    at = app(annotator).switch_page("pages/music_votes.py").run()
    at.button(key="track-Peaceful").click().run()
    assert not at.button(key="track-undo").disabled
    at.switch_page("pages/music.py").run()
    assert "votes: Peaceful 1" in texts(at)  # the result she now knows
    at.switch_page("pages/music_votes.py").run()
    assert at.button(key="track-undo").disabled
    with database.session() as session:
        assert session.scalar(select(TrackVote.final_at)) is not None


def test_the_lead_can_start_the_default_library(database, settings, lead):
    at = app(lead).switch_page("pages/music.py").run()
    assert not at.exception
    assert "32 tracks of the default library are missing." in texts(at)
    [generate] = [b for b in at.button if b.label == "Generate default library"]
    generate.click().run()
    with database.session() as session:
        assert session.scalar(select(Job.kind)) == "music_generate"
