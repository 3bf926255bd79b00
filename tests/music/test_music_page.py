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
        session.add(Track(path=name, title=name, mood=mood, intended_mood=mood, status=status,
                          duration_s=1.0, license="CC0"))  # fmt: skip


def test_tracks_grouped_by_mood_with_players_for_an_annotator(database, settings, annotator):
    add_track(settings, database, "calm.wav", "Peaceful")
    add_track(settings, database, "loud.wav", "Angry", TrackStatus.ACCEPTED)
    at = app(annotator).switch_page("pages/music.py").run()
    assert not at.exception
    headings = [s.value for s in at.subheader]
    assert headings == ["Angry (1)", "Peaceful (1)"]  # circle order
    assert len(at.get("audio")) == 2
    assert "Licence: CC0" in texts(at)
    assert "votes show once you have voted on it" in texts(at)
    at.segmented_control(key="music-status").set_value("accepted").run()
    assert [s.value for s in at.subheader] == ["Angry (1)"]
    assert not at.get("file_uploader"), "only the lead adds tracks"


def test_the_lead_can_start_the_default_library(database, settings, lead):
    at = app(lead).switch_page("pages/music.py").run()
    assert not at.exception
    assert "32 tracks of the default library are missing." in texts(at)
    [generate] = [b for b in at.button if b.label == "Generate default library"]
    generate.click().run()
    with database.session() as session:
        assert session.scalar(select(Job.kind)) == "music_generate"
