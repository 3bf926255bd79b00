"""The track library: adding files, refusing bad ones, roles, status, choosing a track."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from moodlab.core.errors import MoodlabError, NotFound, PermissionDenied
from moodlab.core.models import Role, Track, TrackStatus
from moodlab.music import choice, default_tracks, library, synth
from moodlab.music import votes as track_votes
from moodlab.music.actions import start_generate
from tests.conftest import add_user, run_cli
from tests.media import beat_wav, wav


def add(database, settings, actor, path, **details):
    with database.session() as session:
        track = library.import_track(
            session=session, actor=actor, settings=settings, source=path, **details
        )
        return track.id


def stored_files(settings) -> list:
    return [p for p in settings.music_dir.rglob("*") if p.is_file()]


def track_count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Track))


def test_importing_a_wav_records_its_measurements(database, settings, lead, tmp_path):
    source = tmp_path / "Morning walk.wav"
    source.write_bytes(beat_wav(seconds=20, bpm=120))
    track_id = add(
        database, settings, lead, source, mood="peaceful", license="CC0", attribution="the lab"
    )
    with database.session() as session:
        track = session.get(Track, track_id)
        assert track.status == TrackStatus.CANDIDATE
        assert (track.mood, track.intended_mood, track.title) == (
            "Peaceful",
            "Peaceful",
            "Morning walk",
        )
        assert track.duration_s == pytest.approx(20, abs=0.05)
        assert track.sample_rate == 44_100
        assert track.tempo_bpm == pytest.approx(120, abs=3)
        assert -30 < track.loudness_lufs < 0
        assert track.path == f"uploads/{track.sha256}.wav"
    assert (settings.music_dir / track.path).read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("song.mp3", b"hello, this is not audio\n" * 200, "not audio that ffmpeg can decode"),
        ("cut.wav", beat_wav(seconds=20)[:400_000], "damaged or truncated"),
        ("jingle.wav", beat_wav(seconds=3), "3.0 s is too short"),
        ("phone.wav", wav(seconds=15, rate=8_000), "sample rate 8000 Hz is too low"),
        ("notes.txt", b"la la la", "not a music file moodlab takes"),
    ],
)
def test_bad_files_are_refused_with_the_reason_and_nothing_is_stored(
    database, settings, lead, tmp_path, name, content, reason
):
    source = tmp_path / name
    source.write_bytes(content)
    with pytest.raises(MoodlabError) as refused:
        add(database, settings, lead, source)
    assert str(refused.value).startswith(f"{name}: ")
    assert reason in str(refused.value)
    assert stored_files(settings) == []
    assert track_count(database) == 0


def test_the_same_file_twice_is_refused(database, settings, lead, tmp_path):
    source = tmp_path / "a.wav"
    source.write_bytes(beat_wav(seconds=12))
    first = add(database, settings, lead, source)
    with pytest.raises(MoodlabError, match=f"already in the library as track #{first}"):
        add(database, settings, lead, source)


def test_annotators_may_not_add_or_generate_music(database, settings, annotator, tmp_path):
    source = tmp_path / "a.wav"
    source.write_bytes(beat_wav(seconds=12))
    with pytest.raises(PermissionDenied, match="needs the lead role"):
        add(database, settings, annotator, source)
    with database.session() as session, pytest.raises(PermissionDenied):
        start_generate(session=session, actor=annotator, settings=settings)
    assert stored_files(settings) == []


def make_track(database, settings, name, status, mood, *, generated=False) -> int:
    (settings.music_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (settings.music_dir / name).write_bytes(wav(seconds=0.5))
    with database.session() as session:
        track = Track(
            path=name,
            title=name,
            status=status,
            mood=mood,
            intended_mood=mood,
            seed=1 if generated else None,
        )
        session.add(track)
        session.flush()
        return track.id


def choose(database, settings, mood="Happy"):
    with database.session() as session:
        chosen = choice.choose_track(session=session, settings=settings, mood=mood)
        return chosen.track.id, chosen.warning


def test_choose_prefers_accepted_then_neighbours_then_generated_then_candidates(database, settings):
    make_track(database, settings, "rejected.wav", TrackStatus.REJECTED, "Happy")
    with pytest.raises(NotFound, match="no usable track for Happy"):
        choose(database, settings)
    candidate = make_track(database, settings, "c.wav", TrackStatus.CANDIDATE, "Happy")
    assert choose(database, settings)[0] == candidate
    assert "candidate" in choose(database, settings)[1]
    generated = make_track(
        database, settings, "g.wav", TrackStatus.GENERATED, "Happy", generated=True
    )
    assert choose(database, settings)[0] == generated
    assert "generated" in choose(database, settings)[1]
    make_track(database, settings, "far.wav", TrackStatus.ACCEPTED, "Depressed")
    neighbour = make_track(database, settings, "n.wav", TrackStatus.ACCEPTED, "Peaceful")
    assert choose(database, settings)[0] == neighbour
    assert "neighbouring" in choose(database, settings)[1]
    accepted = make_track(database, settings, "a.wav", TrackStatus.ACCEPTED, "Happy")
    assert choose(database, settings) == (accepted, None)
    (settings.music_dir / "a.wav").unlink()  # a missing file is never chosen
    assert choose(database, settings)[0] == neighbour


def test_an_undone_quorum_returns_a_generated_track_to_generated(database, settings):
    track_id = make_track(
        database, settings, "g.wav", TrackStatus.GENERATED, "Happy", generated=True
    )
    voters = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(3)]

    def vote(actor, mood):
        with database.session() as session:
            track_votes.vote_track(
                session=session, actor=actor, settings=settings, track_id=track_id, mood=mood
            )

    for voter in voters:
        vote(voter, "Dynamic")
    with database.session() as session:
        track = session.get(Track, track_id)
        assert (track.status, track.mood) == (TrackStatus.ACCEPTED, "Dynamic")
    vote(voters[0], "Happy")
    with database.session() as session:
        track = session.get(Track, track_id)
        assert (track.status, track.mood) == (TrackStatus.GENERATED, "Happy")


def test_votes_stay_blind_until_an_annotators_vote_is_final(database, settings, lead):
    first = make_track(database, settings, "1.wav", TrackStatus.CANDIDATE, None)
    second = make_track(database, settings, "2.wav", TrackStatus.CANDIDATE, None)
    anna, ben = (add_user(database, n, Role.ANNOTATOR) for n in ("anna", "ben"))
    with database.session() as session:
        for actor, track_id in ((anna, first), (ben, first), (ben, second)):
            track_votes.vote_track(
                session=session, actor=actor, settings=settings, track_id=track_id, mood="Tired"
            )
    with database.session() as session:
        assert library.visible_votes(session=session, actor=anna) == {}  # still undoable
        assert library.visible_votes(session=session, actor=lead)[second] == {"Tired": 1}
        library.shelf(session=session, actor=anna)  # seeing the library closes her voting
    with database.session() as session:
        assert set(library.visible_votes(session=session, actor=anna)) == {first}


def test_a_default_track_rendered_before_is_reused_and_a_damaged_one_made_again(
    settings, tmp_path, monkeypatch
):
    renders = []
    real_render = synth.render
    monkeypatch.setattr(
        synth, "render", lambda *a, **kw: renders.append(a) or real_render(*a, **kw)
    )
    spec = default_tracks.default_tracks(replace(settings, music_tracks_per_mood=1))[0]
    libraries = [replace(settings, music_dir=tmp_path / f"library{n}") for n in range(3)]

    first = default_tracks.render_default_track(spec, libraries[0])
    again = default_tracks.render_default_track(spec, libraries[1])  # the same code, mood and seed
    assert len(renders) == 1
    assert again == first
    made = [(lab.music_dir / spec.path).read_bytes() for lab in libraries[:2]]
    assert made[0] == made[1]

    for kept in (settings.cache_dir / "default-tracks").rglob("*.mp3"):
        kept.write_bytes(kept.read_bytes()[:1000])  # a cut-short kept file is not used
    third = default_tracks.render_default_track(spec, libraries[2])
    assert len(renders) == 2
    assert third == first


def test_cli_generates_lists_and_imports(env, tmp_path):
    env = {**env, "MOODLAB_MUSIC_TRACKS_PER_MOOD": "1"}
    assert run_cli("migrate", env=env).returncode == 0
    made = run_cli("music", "generate", "--json", env=env, timeout=240)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["generated"] == 8
    again = json.loads(run_cli("music", "generate", "--json", env=env).stdout)
    assert (again["generated"], again["skipped"]) == (0, 8)

    listed = json.loads(run_cli("music", "list", "--json", env=env).stdout)["tracks"]
    assert len(listed) == 8
    for row in listed:
        assert {"id", "path", "mood", "status", "duration_s"} <= set(row)
        assert row["status"] == "generated"
        assert 30 <= row["duration_s"] <= 60
        assert os.path.getsize(row["file"]) > 100_000
    assert sorted(r["mood"] for r in listed) == sorted(
        ["Happy", "Dynamic", "Angry", "Anxiety", "Withered", "Depressed", "Tired", "Peaceful"]
    )

    fake = tmp_path / "fake.mp3"
    fake.write_text("not music")
    refused = run_cli("music", "import", str(fake), env=env)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "fake.mp3: not audio that ffmpeg can decode" in refused.stderr

    good = tmp_path / "loop.wav"
    good.write_bytes(beat_wav(seconds=12))
    added = run_cli(
        "music", "import", str(good), "--mood", "Angry", "--license", "CC-BY-4.0", "--json", env=env
    )
    assert added.returncode == 0, added.stderr
    row = json.loads(added.stdout)
    assert (row["status"], row["mood"], row["license"]) == ("candidate", "Angry", "CC-BY-4.0")


def test_a_default_tracks_title_follows_the_mood_it_is_accepted_for(database, settings):
    from moodlab.core.models import Role
    from moodlab.music import library
    from moodlab.music.votes import vote_track
    from tests.conftest import add_user

    path = "generated/happy-2-seed77.mp3"
    track_id = make_track(database, settings, path, TrackStatus.GENERATED, "Happy", generated=True)
    with database.session() as session:
        session.get_one(Track, track_id).title = "Happy 2"
    people = [add_user(database, name, Role.ANNOTATOR) for name in ("ana", "ben", "cai")]

    def vote(person, mood):
        with database.session() as session:
            vote_track(
                session=session, actor=person, settings=settings, track_id=track_id, mood=mood
            )

    def listed():
        with database.session() as session:
            track = session.get_one(Track, track_id)
            return track.mood, track.title

    for person in people:
        vote(person, "Peaceful")
    assert listed() == ("Peaceful", "Peaceful (made as Happy 2)")
    with database.session() as session:
        [track] = library.list_tracks(session=session)
        assert library.track_row(track, settings)["title"] == "Peaceful (made as Happy 2)"
    vote(people[2], "Tired")  # the quorum undone: back to the mood it was made for
    assert listed() == ("Happy", "Happy 2")
