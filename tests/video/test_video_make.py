"""`video make` end to end: a real tiny Keras model, real clips and photos, real tracks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import JobStatus, Video
from moodlab.video import probe
from moodlab.video.request import VideoParams
from tests import media
from tests.conftest import run_cli, run_job
from tests.video_media import (
    SHOTS,
    audio_seconds,
    clip,
    frame_at,
    register_tiny_model,
    tone,
    tracks_for_every_mood,
)

PROMISED = {"output", "mood", "confidence", "tracks", "timeline", "seconds"}


@pytest.fixture
def lab(database, settings):
    """A model and one accepted track per mood."""
    model_id = register_tiny_model(database, settings)
    tracks = tracks_for_every_mood(database, settings)
    return model_id, tracks


def make(settings, database, actor, *inputs, **more):
    params = VideoParams(inputs=[str(p) for p in inputs], **more)
    return run_job(settings, database, actor, params)


def test_a_video_keeps_its_picture_and_gets_music_of_its_length(
    tmp_path, database, settings, annotator, lab
):
    source = clip(tmp_path / "holiday.mp4", [(SHOTS[0], 6), (SHOTS[2], 6.4)])
    job = make(settings, database, annotator, source, sample_fps=2)
    assert job.status == JobStatus.SUCCEEDED, job.error
    report = job.result
    assert set(report) >= PROMISED | {"warnings", "video_id"}
    out = settings.data_dir / "videos" / f"job{job.id}.mp4"
    assert report["output"] == str(out.resolve())
    made, given = probe.probe(out), probe.probe(source)
    assert made.video_codec == given.video_codec == "h264" and made.audio_codec == "aac"
    assert probe.count_frames(out) == probe.count_frames(source) == 310
    assert audio_seconds(out) == pytest.approx(12.4, abs=0.1)
    # One sample every half second, each with the eight probabilities.
    assert len(report["timeline"]) == 25
    assert set(report["timeline"][0]["probs"]) == set(moods.names())
    assert report["mood"] in moods.names() and 0.125 <= report["confidence"] <= 1
    mean = np.mean([list(r["probs"].values()) for r in report["timeline"]], axis=0)
    assert report["mood"] == moods.names()[int(mean.argmax())]
    [track] = report["tracks"]
    assert (track["start_s"], track["end_s"], track["mood"]) == (0, 12.4, report["mood"])
    assert track["track_id"] == lab[1][report["mood"]]
    assert not list(out.parent.glob(".*tmp"))
    with database.session() as session:
        video = session.get(Video, report["video_id"])
        assert video.created_by_id == annotator.id and video.model_id == lab[0]
        assert video.inputs["files"][0]["name"] == "holiday.mp4"
        assert len(video.inputs["files"][0]["sha256"]) == 64
        assert video.report["timeline"] == report["timeline"]
    assert len(report["frames"]) == 12
    assert (settings.data_dir / report["frames"][0]["path"]).exists()


def test_segments_change_the_track_at_scene_cuts(tmp_path, database, settings, lead, lab):
    source = clip(tmp_path / "three.mp4", [(SHOTS[0], 10), (SHOTS[1], 10), (SHOTS[2], 10)])
    job = make(settings, database, lead, source, segments=True, sample_fps=1)
    assert job.status == JobStatus.SUCCEEDED, job.error
    segments = job.result["segments"]
    bounds = [s["start_s"] for s in segments[1:]]
    assert bounds == pytest.approx([10, 20], abs=0.2)
    assert [(t["start_s"], t["end_s"]) for t in job.result["tracks"]] == [
        (s["start_s"], s["end_s"]) for s in segments
    ]
    assert job.result["tracks"][-1]["end_s"] == 30
    assert audio_seconds(job.result["output"]) == pytest.approx(30, abs=0.1)


def test_keep_audio_mixes_the_original_under_the_music(tmp_path, database, settings, lead, lab):
    source = clip(tmp_path / "talk.mp4", [(SHOTS[0], 4)])
    job = make(settings, database, lead, source, keep_audio=True)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert audio_seconds(job.result["output"]) == pytest.approx(4, abs=0.1)


def _oriented_jpeg(size=(240, 160)) -> bytes:
    """A bright landscape picture stored with EXIF orientation 6: it shows as portrait."""
    image = PILImage.new("RGB", size, (250, 240, 60))
    exif = PILImage.Exif()
    exif[0x0112] = 6
    return media.encode(image, "JPEG", exif=exif.tobytes())


def test_photos_become_a_slideshow_that_plays(tmp_path, database, settings, lead, lab):
    paths = []
    for i, data in enumerate(
        [media.jpeg(1, (240, 160)), media.png(2, (240, 160)), _oriented_jpeg(), b"not a picture"]
    ):
        paths.append(tmp_path / f"photo{i}.{'png' if i == 1 else 'jpg'}")
        paths[-1].write_bytes(data)
    job = make(settings, database, lead, *paths, segments=True, fit="pad")
    assert job.status == JobStatus.SUCCEEDED, job.error
    report = job.result
    assert report["kind"] == "slideshow"
    assert report["mode"] == (
        "a mood per photo: 2 photo changes found, 1 segment; 2 cuts were not used, because"
        " a segment must last at least 8 s for its track to establish itself, so shorter"
        " photos joined their neighbours (the whole video is 10.0 s); photos whole on black"
    )
    assert report["warnings"] == [
        "photo3.jpg: left out: not an image: the bytes begin like none of JPEG, PNG, GIF, WebP,"
        " BMP, TIFF"
    ]
    out = probe.probe(report["output"])
    assert (out.video_codec, out.audio_codec) == ("h264", "aac")
    assert out.width % 2 == 0 and out.height % 2 == 0 and (out.width, out.height) == (240, 160)
    assert report["duration_s"] == 10.0  # 3 x 4 s, less two 1 s crossfades
    assert audio_seconds(report["output"]) == pytest.approx(10.0, abs=0.1)
    assert probe.count_frames(report["output"]) == 250
    # The third photo stands upright (EXIF applied): black bars left and right of it.
    frame = frame_at(report["output"], 8.5, out.width, out.height).astype(int)
    assert frame[:, :20].mean() < 20 and frame[:, 100:140].mean() > 150
    # Each photo from the end of its crossfade in to the next one's start: the timeline
    # covers the whole show, the last hold too.
    assert [r["t"] for r in report["timeline"]] == [0, 3, 4, 6, 7, 10]


def test_a_slideshow_fills_its_frame_by_default(tmp_path, database, settings, lead, lab):
    paths = [tmp_path / "wide.jpg", tmp_path / "tall.jpg"]
    paths[0].write_bytes(media.jpeg(1, (240, 160)))
    paths[1].write_bytes(_oriented_jpeg())  # upright: 160 x 240 in a 240 x 160 frame
    job = make(settings, database, lead, *paths)
    assert job.status == JobStatus.SUCCEEDED, job.error
    out = probe.probe(job.result["output"])
    assert (out.width, out.height) == (240, 160)
    # The upright photo is cropped to fill the frame: bright to the edges, no bars.
    frame = frame_at(job.result["output"], 6.5, out.width, out.height).astype(int)
    assert frame[:, :20].mean() > 150 and frame[:, -20:].mean() > 150
    assert job.result["mode"].endswith("; photos cropped to fill the frame")
    assert job.result["mode"].startswith("one mood and track for the whole video")
    with database.session() as session:
        video = session.get(Video, job.result["video_id"])
        assert video.report["mode"] == job.result["mode"]
        assert video.report["settings"]["fit"] == "fill"


@pytest.mark.parametrize(
    ("name", "make_file", "message"),
    [
        ("song.m4a", lambda p: tone(p, 2), "song.m4a: no video stream"),
        ("empty.mp4", lambda p: p.write_bytes(b""), "empty.mp4: zero length"),
        (
            "big.mp4",
            lambda p: p.write_bytes(b"x" * 300_000),
            "big.mp4: 300 kB is over the 100 kB limit (MOODLAB_VIDEO_MAX_BYTES)",
        ),
        (
            "odd.mp4",
            lambda p: p.write_bytes(
                clip(p.with_name("src.mp4"), [(SHOTS[0], 1)]).read_bytes().replace(b"avc1", b"zzzz")
            ),
            "odd.mp4: codec zzzz cannot be decoded",
        ),
    ],
)
def test_bad_inputs_get_a_clear_error(
    tmp_path, monkeypatch, database, lead, lab, name, make_file, message
):
    from moodlab.core.config import Settings

    monkeypatch.setenv("MOODLAB_VIDEO_MAX_BYTES", "100000")
    path = tmp_path / name
    make_file(path)
    try:  # an empty or too big file is refused at once; what only ffmpeg sees fails the job
        job = make(Settings.from_env(), database, lead, path)
    except MoodlabError as refused:
        error = str(refused)
    else:
        assert job.status == JobStatus.FAILED
        error = job.error
    assert error.startswith(message), error


def test_no_model_yet(tmp_path, database, settings, lead):
    source = clip(tmp_path / "clip.mp4", [(SHOTS[0], 1)])
    job = make(settings, database, lead, source)
    assert job.error == (
        "no trained model yet: train one on the Training page or with `moodlab train`"
    )


def test_video_make_and_list_commands(env, tmp_path, database, settings, lab):
    source = clip(tmp_path / "clip.mp4", [(SHOTS[0], 3)])
    out = tmp_path / "out" / "with music.mp4"
    result = run_cli(
        "video",
        "make",
        str(source),
        "--out",
        str(out),
        "--sample-fps",
        "1",
        "--seed",
        "3",
        "--json",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= PROMISED | {"warnings", "video_id"}
    assert report["output"] == str(out) and out.exists()
    assert set(report["tracks"][0]) == {"track_id", "mood", "start_s", "end_s"}
    assert set(report["timeline"][0]) == {"t", "mood", "probs"}
    assert isinstance(report["confidence"], float) and isinstance(report["seconds"], float)
    listed = json.loads(run_cli("video", "list", "--json").stdout)["videos"]
    assert [v["id"] for v in listed] == [report["video_id"]]
    assert listed[0]["path"] == str(out)
    missing = run_cli("video", "make", str(tmp_path / "nope.mp4"))
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"moodlab: error: {tmp_path / 'nope.mp4'}: no such file"


def test_the_video_page_shows_a_made_video(tmp_path, database, settings, annotator, lab):
    from tests.test_pages import app

    source = clip(tmp_path / "clip.mp4", [(SHOTS[0], 3)])
    assert make(settings, database, annotator, source).status == JobStatus.SUCCEEDED
    at = app(annotator, timeout=60)
    at.switch_page("pages/video.py").run()
    assert not at.exception
    assert at.title[0].value == "Video"
    shown = "\n".join(str(m.value) for m in (*at.markdown, *at.caption, *at.subheader))
    assert "Mood over time" in shown and "History" in shown
    assert len(at.dataframe) >= 1  # the history table


def test_a_warm_worker_keeps_the_model_between_video_jobs(
    tmp_path, database, settings, lead, lab, monkeypatch
):
    """The second video on one worker loads nothing; a replaced model file loads again."""
    import os

    from moodlab.job_kinds import KINDS
    from moodlab.jobs.queue import enqueue
    from moodlab.jobs.worker import JobWorker
    from moodlab.training import registry
    from moodlab.video import timeline

    timeline.forget_models()
    loads = []
    real = registry.load_registered
    monkeypatch.setattr(registry, "load_registered", lambda s, e: loads.append(e.id) or real(s, e))
    source = clip(tmp_path / "short.mp4", [(SHOTS[0], 2)])
    worker = JobWorker(settings, database, kinds=KINDS)

    def video_job():
        with database.session() as session:
            params = VideoParams(inputs=[str(source)], sample_fps=2)
            job_id = enqueue(session=session, actor=lead, settings=settings, params=params).id
        assert worker.run_one()
        with database.session() as session:
            from moodlab.core.models import Job

            job = session.get(Job, job_id)
            assert job.status == JobStatus.SUCCEEDED, job.error
            return job.result

    first, second = video_job(), video_job()
    assert loads == [lab[0]]  # loaded once, kept for the second job
    assert second["timeline"] == first["timeline"]
    with database.session() as session:
        from moodlab.core.models import TrainedModel

        path = settings.data_dir / session.get(TrainedModel, lab[0]).path
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    video_job()
    assert loads == [lab[0], lab[0]]  # the file changed: loaded again
    timeline.forget_models()
