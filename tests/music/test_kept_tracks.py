"""Kept default tracks that are not what their record says are made again, never used.

Each test generates a one-track-per-mood library (`moodlab music generate`'s service)
from a cache whose tracks were rendered once for the module, with the first track's
kept file or record damaged: the damaged one is rendered again and replaces what was
kept, with a warning; the seven others are copied; nothing fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import replace

import pytest
from sqlalchemy import select

from moodlab.core.config import Settings
from moodlab.core.models import Track
from moodlab.music import audio, default_tracks, library, synth
from tests.media import beat_wav

# Pieces this long render in a fifth of a default track's time (30 to 60 s); what is
# kept, checked and made again is the same.
SECONDS = 12
real_render = synth.render


def short_render(params, *, seed):
    return real_render(params, seed=seed, seconds=SECONDS)


@pytest.fixture(scope="module")
def rendered_cache(tmp_path_factory):
    """A cache holding the eight tracks of a one-per-mood default library, rendered once."""
    folder = tmp_path_factory.mktemp("rendered")
    settings = Settings(
        cache_dir=folder / "cache", music_dir=folder / "music", music_tracks_per_mood=1
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synth, "render", short_render)
        for spec in default_tracks.default_tracks(settings):
            default_tracks.render_default_track(spec, settings)
    return folder / "cache"


@pytest.fixture
def one_per_mood(settings, rendered_cache) -> Settings:
    settings = replace(settings, music_tracks_per_mood=1)
    shutil.copytree(rendered_cache, settings.cache_dir)
    return settings


def kept_paths(settings, number: int = 0):
    """The kept file and record of the library's ``number``th default track."""
    spec = default_tracks.default_tracks(settings)[number]
    kept = default_tracks.kept_tracks(settings)
    return kept.paths(default_tracks.kept_key(kept, spec), ".mp3")


def rewrite(record_file, change) -> None:
    record = json.loads(record_file.read_text())
    change(record)
    record_file.write_text(json.dumps(record))


def matching(content: bytes):
    """A change that makes a record match ``content``."""

    def change(record):
        record.update(size=len(content), sha256=hashlib.sha256(content).hexdigest())

    return change


def generate(database, settings, monkeypatch, caplog) -> tuple[dict, int]:
    """Generate the library; its report and how many tracks were rendered."""
    renders = []
    monkeypatch.setattr(
        synth, "render", lambda *a, **kw: renders.append(a) or short_render(*a, **kw)
    )
    with caplog.at_level(logging.WARNING, "moodlab.reuse"):
        report = library.generate_library(database=database, settings=settings)
    return report, len(renders)


def assert_made_again(database, settings, rendered_cache, caplog, renders, report) -> None:
    """The first track was rendered again, is the right track, and is kept again."""
    spec = default_tracks.default_tracks(settings)[0]
    assert (report["generated"], renders) == (8, 1)
    file, record_file = kept_paths(settings)
    assert f"kept file {file}" in caplog.text and "discarded, made again" in caplog.text
    original = rendered_cache / file.relative_to(settings.cache_dir)
    made = settings.music_dir / spec.path
    assert made.read_bytes() == original.read_bytes()  # the track it should be
    assert file.read_bytes() == original.read_bytes() and not file.is_symlink()
    assert not record_file.is_symlink()
    assert json.loads(record_file.read_text()) == json.loads(
        original.with_suffix(".json").read_text()
    )
    with database.session() as session:
        track = session.scalar(select(Track).where(Track.path == spec.path))
    assert track is not None and isinstance(track.duration_s, float)
    assert track.sha256 == hashlib.sha256(made.read_bytes()).hexdigest()
    assert audio.decode(made).duration_s == pytest.approx(track.duration_s, abs=0.25)


BAD_RECORDS = {
    "a field of the wrong type": lambda r: r["extra"].update(duration_s="long"),
    "a field missing": lambda r: r["extra"].pop("tempo_bpm"),
    "a tempo that is not the track's": lambda r: r["extra"].update(tempo_bpm=999.0),
}


@pytest.mark.parametrize("change", BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_a_kept_track_whose_record_has_a_bad_field_is_made_again(
    database, one_per_mood, rendered_cache, monkeypatch, caplog, change
):
    rewrite(kept_paths(one_per_mood)[1], change)
    report, renders = generate(database, one_per_mood, monkeypatch, caplog)
    assert_made_again(database, one_per_mood, rendered_cache, caplog, renders, report)


def test_a_kept_track_whose_record_is_not_json_is_made_again(
    database, one_per_mood, rendered_cache, monkeypatch, caplog
):
    kept_paths(one_per_mood)[1].write_text('{"size": 1000, "sha256": ')
    report, renders = generate(database, one_per_mood, monkeypatch, caplog)
    assert_made_again(database, one_per_mood, rendered_cache, caplog, renders, report)
    assert "its record is not JSON" in caplog.text


def test_a_kept_track_swapped_for_another_file_with_a_matching_record_is_made_again(
    database, one_per_mood, rendered_cache, monkeypatch, caplog
):
    file, record_file = kept_paths(one_per_mood)
    file.write_bytes(b"not music at all")
    rewrite(record_file, matching(b"not music at all"))
    report, renders = generate(database, one_per_mood, monkeypatch, caplog)
    assert_made_again(database, one_per_mood, rendered_cache, caplog, renders, report)
    assert "not audio that ffmpeg can decode" in caplog.text


def test_a_kept_track_swapped_for_another_track_with_a_matching_record_is_made_again(
    database, one_per_mood, rendered_cache, monkeypatch, caplog
):
    """Another mood's track decodes as a track of about the same length: that it is the
    same file as another kept track gives it away, and neither copy is trusted."""
    file, record_file = kept_paths(one_per_mood)
    other = kept_paths(one_per_mood, 1)[0].read_bytes()  # the next mood's track
    file.write_bytes(other)
    rewrite(record_file, matching(other))
    report, renders = generate(database, one_per_mood, monkeypatch, caplog)
    assert (report["generated"], renders) == (8, 2)  # both made again
    assert caplog.text.count("it is the same file as another track's") == 2
    for number in (0, 1):
        spec = default_tracks.default_tracks(one_per_mood)[number]
        kept = kept_paths(one_per_mood, number)[0]
        original = rendered_cache / kept.relative_to(one_per_mood.cache_dir)
        assert (one_per_mood.music_dir / spec.path).read_bytes() == original.read_bytes()
        assert kept.read_bytes() == original.read_bytes()


@pytest.mark.parametrize("which", ["the track", "its record"])
def test_a_kept_track_that_is_a_symbolic_link_is_never_followed(
    database, one_per_mood, rendered_cache, monkeypatch, caplog, tmp_path, which
):
    file, record_file = kept_paths(one_per_mood)
    elsewhere = tmp_path / "system-file"  # stands for /etc/passwd, say
    if which == "the track":
        elsewhere.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
        rewrite(record_file, matching(elsewhere.read_bytes()))
        file.unlink()
        file.symlink_to(elsewhere)
    else:  # a record elsewhere that matches the kept track
        elsewhere.write_bytes(record_file.read_bytes())
        record_file.unlink()
        record_file.symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    report, renders = generate(database, one_per_mood, monkeypatch, caplog)
    assert_made_again(database, one_per_mood, rendered_cache, caplog, renders, report)
    assert "is a symbolic link" in caplog.text
    assert elsewhere.read_bytes() == before  # the link was replaced, not written through


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (dict(duration_s=3.0), "where its record says 3.0 s"),
        (dict(tempo_bpm=999.0), "its record's tempo 999.0 is not the track's"),
        (dict(key="A minor" * 10), "its record's key 'A minorA minorA mino' is not a key"),
    ],
)
def test_a_kept_track_is_checked_against_every_field_of_its_record(
    one_per_mood, tmp_path, change, reason
):
    """The check itself, on a copy of a kept track: a decode, no render."""
    spec = default_tracks.default_tracks(one_per_mood)[0]
    file, record_file = kept_paths(one_per_mood)
    made = json.loads(record_file.read_text())["extra"]
    copy = tmp_path / "track.mp3"
    shutil.copy(file, copy)
    params = spec.params
    default_tracks.check_kept_track(copy, made, params)  # as kept: passes
    with pytest.raises(ValueError, match=re.escape(reason)):
        default_tracks.check_kept_track(copy, made | change, params)


def test_a_kept_track_that_is_other_audio_is_refused_by_its_check(one_per_mood, tmp_path):
    spec = default_tracks.default_tracks(one_per_mood)[0]
    made = json.loads(kept_paths(one_per_mood)[1].read_text())["extra"]
    wav = tmp_path / "track.mp3"  # a WAV named like the track
    wav.write_bytes(beat_wav(seconds=made["duration_s"]))
    with pytest.raises(ValueError, match=r"it is pcm_\w+ at 44100 Hz, not MP3 at 44100 Hz"):
        default_tracks.check_kept_track(wav, made, spec.params)
