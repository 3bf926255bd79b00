"""The parts of a video, each on real files made by ffmpeg: probe, frames, scenes,
the mood decision, the track choice, the soundtrack and the stream-copy mux."""

from __future__ import annotations

import numpy as np
import pytest

from moodlab.core import moods
from moodlab.core.errors import NotFound
from moodlab.video import frames, mux, probe, scenes, slideshow, soundtrack, timeline
from moodlab.video.probe import VideoError
from tests.video_media import SHOTS, add_track, audio_seconds, clip, ffmpeg, tone


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    """30 s: three 10 s shots with hard cuts at 10 and 20 s, and a sine soundtrack."""
    path = tmp_path_factory.mktemp("media") / "cuts.mp4"
    return clip(path, [(SHOTS[0], 10), (SHOTS[1], 10), (SHOTS[2], 10)])


def test_probe_reads_streams_duration_and_rate(cut_clip):
    info = probe.probe(cut_clip)
    assert (info.video_codec, info.width, info.height, info.fps) == ("h264", 160, 90, 25.0)
    assert info.audio_codec == "aac"
    assert info.duration_s == pytest.approx(30, abs=0.1)
    assert probe.count_frames(cut_clip) == 750
    assert probe.video_duration(info) == pytest.approx(30.0)


def test_probe_sees_no_video_in_an_audio_file_and_refuses_junk(tmp_path):
    info = probe.probe(tone(tmp_path / "song.m4a"))
    assert not info.has_video and info.audio_codec == "aac"
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(VideoError, match="clip.mp4: not a media file ffmpeg can read"):
        probe.probe(junk)


def test_probe_reads_the_rotation_a_phone_records(tmp_path):
    source = clip(tmp_path / "flat.mp4", [(SHOTS[0], 1)], audio=False)
    turned = tmp_path / "turned.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(source), "-c", "copy", str(turned))
    assert probe.probe(turned).rotation in (90, 270)


def test_frames_come_in_fixed_batches_of_the_model_size(cut_clip):
    with frames.FrameSampler(cut_clip, fps=2, side=128, batch=16) as sampler:
        batches = list(sampler)
    assert [len(b.frames) for b in batches] == [16, 16, 16, 12]  # 60 samples in 30 s
    assert batches[0].frames.shape[1:] == (128, 128, 3) and batches[0].frames.dtype == np.uint8
    times = np.concatenate([b.times for b in batches])
    np.testing.assert_allclose(times, np.arange(60) / 2)
    # The red shot (10-20 s) is red in its samples: frames are the picture, not noise.
    red = batches[1].frames[6]  # sample 22, at 11 s
    assert red[..., 0].mean() > 150 and red[..., 1].mean() < 80


def test_frames_use_the_training_center_crop(tmp_path):
    """A 16:9 frame with a white band at the left edge: the crop cuts it away, adds no bars."""
    path = tmp_path / "wide.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=320x180:r=10:d=1",
        "-vf",
        "drawbox=x=0:y=0:w=60:h=180:color=white:t=fill",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    with frames.FrameSampler(path, fps=1, side=128) as sampler:
        frame = next(iter(sampler)).frames[0]
    # Scaled to 228x128, the middle 128 kept (from x=50): the white band (0-43 px) is gone.
    assert frame.mean() < 10


def test_mean_probabilities_decide_not_a_majority_of_argmaxes():
    happy, peaceful = moods.get("Happy").index, moods.get("Peaceful").index
    probs = np.full((3, 8), 0.0)
    probs[:2, peaceful], probs[:2, happy] = 0.40, 0.35  # two samples slightly Peaceful
    probs[2, happy] = 0.95  # one clearly Happy
    probs = probs + (1 - probs.sum(axis=1, keepdims=True)) / 8  # rows sum to 1
    decision = timeline.decide(probs)
    assert [moods.names()[i] for i in probs.argmax(axis=1)].count("Peaceful") == 2
    assert decision.mood == "Happy"
    assert decision.confidence == pytest.approx(probs[:, happy].mean())


def test_the_valence_arousal_point_is_probability_weighted():
    probs = np.zeros(8)
    probs[moods.get("Happy").index] = probs[moods.get("Peaceful").index] = 0.5
    v, a = timeline.va_point(probs)
    assert v == pytest.approx((0.94 + 0.77) / 2, abs=0.01)
    assert a == pytest.approx((0.34 - 0.64) / 2, abs=0.01)


def test_scene_cuts_are_found_and_short_segments_merged(cut_clip):
    cuts = scenes.detect_cuts(cut_clip)
    assert len(cuts) == 2
    assert cuts[0] == pytest.approx(10, abs=0.1) and cuts[1] == pytest.approx(20, abs=0.1)
    assert scenes.plan_segments(30, cuts) == [(0, cuts[0]), (cuts[0], cuts[1]), (cuts[1], 30)]
    # A cut 3 s in, one 4 s after the last kept cut and one 4 s before the end all go.
    assert scenes.plan_segments(30, [3, 8, 12, 26]) == [(0, 8), (8, 30)]
    assert scenes.plan_segments(5, [2]) == [(0, 5)]


def _probs(mood: str) -> np.ndarray:
    probs = np.full(8, 0.02)
    probs[moods.get(mood).index] = 0.86
    return probs


def test_track_choice_prefers_accepted_then_falls_back_with_a_warning(database, settings):
    rejected = add_track(database, settings, "Happy", "rejected")
    candidate = add_track(database, settings, "Happy", "candidate")
    generated = add_track(database, settings, "Happy", "generated")
    accepted = add_track(database, settings, "Happy", "accepted")
    add_track(database, settings, "Tired", "accepted")
    with database.session() as session:
        choose = lambda: soundtrack.choose_track(  # noqa: E731
            session=session, settings=settings, probs=_probs("Happy"), seed=0
        )
        first = choose()
        assert (first.track_id, first.warning) == (accepted, None)
        (settings.music_dir / f"happy-{accepted}.m4a").unlink()  # a file gone: not usable
        second = choose()
        assert second.track_id == generated
        assert "no accepted track for Happy: using a generated Happy track" in second.warning
        (settings.music_dir / f"happy-{generated}.m4a").unlink()
        assert choose().track_id == candidate
        (settings.music_dir / f"happy-{candidate}.m4a").unlink()
        with pytest.raises(NotFound, match="no usable track for Happy"):
            choose()  # the rejected track never plays
    assert rejected


def test_track_choice_is_reproducible_with_a_seed(database, settings):
    ids = [add_track(database, settings, "Tired", "accepted") for _ in range(6)]
    with database.session() as session:

        def choose(seed):
            return soundtrack.choose_track(
                session=session, settings=settings, probs=_probs("Tired"), seed=seed
            ).track_id

        assert all(choose(7) == choose(7) for _ in range(3))
        assert {choose(seed) for seed in range(20)} > {ids[0]}  # the seed does pick


def test_soundtrack_loops_crossfades_and_lasts_exactly(tmp_path, database, settings):
    a, b = tone(tmp_path / "a.m4a", 3, 440), tone(tmp_path / "b.m4a", 3, 660)
    pieces = [soundtrack.Piece(1, a, "Happy", 0, 10.5), soundtrack.Piece(2, b, "Tired", 10.5, 21.3)]
    out = tmp_path / "music.m4a"
    soundtrack.render(pieces, 21.3, out)
    assert probe.probe(out).audio_codec == "aac"
    assert audio_seconds(out) == pytest.approx(21.3, abs=0.05)  # 3 s tracks looped to length


def test_mux_copies_the_video_stream_and_sets_the_length(tmp_path, cut_clip):
    music = tone(tmp_path / "music.m4a", 30)
    out = tmp_path / "out.mp4"
    info = probe.probe(cut_clip)
    assert mux.mux(info, music, out, duration=30.0) is False  # copied, not re-encoded
    made = probe.probe(out)
    assert made.video_codec == "h264" and made.audio_codec == "aac"
    assert probe.count_frames(out) == 750
    assert audio_seconds(out) == pytest.approx(30.0, abs=0.1)


def test_mux_re_encodes_a_codec_mp4_cannot_hold(tmp_path):
    source = clip(tmp_path / "old.avi", [(SHOTS[0], 2)], audio=False, codec="ffv1")
    music = tone(tmp_path / "music.m4a", 2)
    out = tmp_path / "out.mp4"
    info = probe.probe(source)
    assert info.video_codec == "ffv1" and not mux.can_copy("ffv1")
    assert mux.mux(info, music, out, duration=2.0) is True
    assert probe.probe(out).video_codec == "h264" and probe.count_frames(out) == 50


def test_slideshow_frames_hold_each_photo_and_blend_linearly_in_a_crossfade():
    shade = [np.full((4, 6, 3), value, dtype=np.uint8) for value in (0, 100, 200)]
    frame = slideshow.frame_function(shade)
    # Photo k starts at 3k s and takes the crossfade's 1 s to cover the one before it.
    assert frame(0.0) is shade[0] and frame(2.9) is shade[0]
    assert frame(3.0).mean() == 0 and frame(3.5).mean() == 50 and frame(4.0) is shade[1]
    assert frame(6.25).mean() == 125 and frame(7.0) is shade[2]
    assert frame(slideshow.duration(3)) is shade[2]
    assert frame(3.5).dtype == np.uint8 and frame(3.5).shape == (4, 6, 3)


def _ffmpeg_children() -> list[int]:
    """This process's child processes that run ffmpeg (Linux /proc)."""
    import os
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"ffmpeg" in command:
            found.append(int(entry.name))
    return found


def test_a_cancelled_slideshow_stops_its_frames_and_moviepys_ffmpeg(tmp_path):
    """moviepy runs ffmpeg itself: a cancel reaches it through the frames."""
    import io
    import threading
    import time

    from PIL import Image

    from moodlab.core import processes

    photos = []
    for value in range(40):  # two minutes of video: far longer than the test waits
        buffer = io.BytesIO()
        Image.new("RGB", (320, 240), (value * 6, 80, 160)).save(buffer, "JPEG")
        photos.append(buffer.getvalue())
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    with processes.watched_by(cancel), pytest.raises(processes.ChildStopped, match="cancelled"):
        slideshow.write(photos, tmp_path / "show.mp4")
    assert time.monotonic() - started < 10
    assert _ffmpeg_children() == []
