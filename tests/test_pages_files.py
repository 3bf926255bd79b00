"""Pages pass files to the browser by URL (moodlab/ui/files.py), not by their bytes;
the Crawl & import page's held near-duplicates come a page at a time, in one query."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidRequestError

from moodlab.core import moods
from moodlab.core.errors import NotFound
from moodlab.core.models import Job, Snapshot, Track, Video
from moodlab.datasets.export import export_path
from moodlab.ui.files import PREFIX
from moodlab.video import history
from tests import media
from tests.test_pages import _images_with_files, app


def media_urls(at) -> list[str]:
    """Where each image, audio and video element of the page sends the browser."""
    urls = [url for image in at.get("image") for url in image.value]
    urls += [element.proto.url for element in (*at.get("audio"), *at.get("video"))]
    return urls


def test_music_page_players_are_addresses_not_bytes(database, settings, lead):
    settings.music_dir.mkdir(parents=True, exist_ok=True)
    with database.session() as session:
        for n in range(3):
            (settings.music_dir / f"Happy {n}.wav").write_bytes(media.wav(seconds=1.0))
            session.add(Track(path=f"Happy {n}.wav", title=f"Happy {n}", mood="Happy"))
    at = app(lead).switch_page("pages/music.py").run()
    assert not at.exception
    urls = media_urls(at)
    assert len(urls) == 3
    assert all(url.startswith(f"{PREFIX}/track/") for url in urls), urls
    assert not any("Happy" in url for url in urls)


def test_video_page_streams_the_video_and_its_frames(database, settings, lead):
    (settings.data_dir / "videos").mkdir(parents=True)
    (settings.data_dir / "videos" / "v.mp4").write_bytes(b"\0" * 1000)
    (settings.data_dir / "frames").mkdir()
    (settings.data_dir / "frames" / "f.jpg").write_bytes(media.jpeg(1))
    frame = {"path": "frames/f.jpg", "t": 0.0, "mood": "Happy", "probability": 0.9}
    with database.session() as session:
        video = Video(
            kind="video",
            path="videos/v.mp4",
            title="clip",
            mood="Happy",
            confidence=0.9,
            duration_s=1.0,
            seconds=1.0,
            created_by_id=lead.id,
            inputs={},
            report={"frames": [frame], "timeline": []},
        )
        session.add(video)
        session.flush()
        video_id = video.id
    at = app(lead).switch_page("pages/video.py").run()
    assert not at.exception
    assert sorted(media_urls(at)) == [f"{PREFIX}/frame/{video_id}/0", f"{PREFIX}/video/{video_id}"]
    [download] = [b for b in at.get("link_button") if b.proto.label == "Download"]
    assert download.proto.url == f"{PREFIX}/video/{video_id}?download=1"


def test_datasets_page_links_the_export_instead_of_reading_it(database, settings, lead):
    with database.session() as session:
        snapshot = Snapshot(rules={}, manifest_sha256="0" * 64, train_counts={}, test_counts={})
        session.add(snapshot)
        session.flush()
        snapshot_id = snapshot.id
    zipped = export_path(settings, snapshot_id)
    zipped.parent.mkdir(parents=True)
    zipped.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    at = app(lead).switch_page("pages/datasets.py").run()
    assert not at.exception
    [link] = [b for b in at.get("link_button") if b.proto.label == "Download zip"]
    assert link.proto.url == f"{PREFIX}/export/{snapshot_id}"
    assert not at.get("download_button")


def held_job(database, settings, stored: list[int], count: int) -> int:
    """An import job that held ``count`` near-duplicates of the ``stored`` images."""
    entries = []
    for n in range(count):
        data = media.jpeg(900 + n)
        sha = hashlib.sha256(data).hexdigest()
        preview = settings.data_dir / "held" / "job" / f"{sha}.preview.jpg"
        preview.parent.mkdir(parents=True, exist_ok=True)
        preview.write_bytes(data)
        entries.append(
            {
                "source": f"near-{n}.jpg",
                "reason": f"near-duplicate of image {stored[n % len(stored)]}",
                "kind": "duplicate",
                "sha256": sha,
                "duplicate_of": stored[n % len(stored)],
                "held": f"held/job/{sha}.preview.jpg",
                "preview": f"held/job/{sha}.preview.jpg",
            }
        )
    with database.session() as session:
        job = Job(kind="import", params={"path": "x"}, status="succeeded")
        job.result = {"stored": 0, "duplicates": count, "duplicate_sources": entries}
        session.add(job)
        session.flush()
        return job.id


def test_held_near_duplicates_come_a_page_at_a_time_in_one_query(database, settings, lead):
    stored = _images_with_files(database, settings, 30)
    job_id = held_job(database, settings, stored, 30)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    at = app(lead).switch_page("pages/crawl.py")
    event.listen(Engine, "before_cursor_execute", count)  # the page's own engine too
    try:
        at.run()
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert not at.exception
    [expander] = [e for e in at.expander if e.label.startswith("Near-duplicates")]
    assert expander.label.startswith("Near-duplicates (30, 30 not kept)")
    held = [u for u in media_urls(at) if u.startswith(f"{PREFIX}/held/{job_id}/")]
    assert len(held) == 12, "one page"
    beside = [u for u in media_urls(at) if u.startswith(f"{PREFIX}/display/")]
    assert len(beside) >= 12
    by_id = [s for s in statements if "FROM images" in s and "WHERE images.id" in s]
    assert len(by_id) == 1, by_id
    rows = [b for b in at.get("flex_container") if (b.key or "").startswith(f"held-{job_id}-")]
    assert len(rows) == 12, "each row keyed by its candidate"
    at.number_input(key=f"held-page-{job_id}").set_value(3).run()
    assert not at.exception
    assert len([u for u in media_urls(at) if u.startswith(f"{PREFIX}/held/")]) == 6


def test_music_page_draws_eight_tracks_a_mood_until_all_are_asked_for(database, settings, lead):
    settings.music_dir.mkdir(parents=True, exist_ok=True)
    with database.session() as session:
        for n in range(20):
            (settings.music_dir / f"t{n}.wav").write_bytes(media.wav(seconds=0.5))
            session.add(Track(path=f"t{n}.wav", title=f"Calm {n}", mood="Peaceful"))
    at = app(lead).switch_page("pages/music.py").run()
    assert not at.exception
    assert len(at.get("audio")) == 8
    at.checkbox(key="music-all-Peaceful").check().run()
    assert len(at.get("audio")) == 20


def test_video_page_reads_only_the_shown_videos_report(database, settings, lead, annotator):
    """The history lists videos without their reports (a timeline grows with a video's
    length); only the video on screen is read whole, and only by its maker or the lead."""
    (settings.data_dir / "videos").mkdir(parents=True)
    probs = dict.fromkeys(moods.names(), 0.125)
    timeline = [{"t": t / 4, "mood": "Happy", "probs": probs} for t in range(2_000)]
    with database.session() as session:
        for n in range(3):
            (settings.data_dir / "videos" / f"v{n}.mp4").write_bytes(b"\0" * 100)
            session.add(
                Video(
                    kind="video",
                    path=f"videos/v{n}.mp4",
                    title=f"clip {n}",
                    mood="Happy",
                    confidence=0.9,
                    duration_s=500.0,
                    seconds=1.0,
                    created_by_id=lead.id,
                    inputs={"files": [f"v{n}.mp4"]},
                    report={"frames": [], "timeline": timeline},
                )
            )
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        at = app(lead).switch_page("pages/video.py").run()
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert not at.exception
    assert len(at.dataframe[0].value) == 3  # the history lists all three
    with_report = [s for s in statements if "videos.report" in s]
    assert len(with_report) == 1, with_report  # the one on screen
    assert "WHERE videos.id = " in with_report[0], with_report
    with database.session() as session:
        [listed, *_] = history.list_videos(session=session, actor=lead, reports=False)
        with pytest.raises(InvalidRequestError):
            listed.report  # noqa: B018 (not read unless asked for)
        whole = history.get_video(session=session, actor=lead, video_id=listed.id)
        assert len(whole.report["timeline"]) == 2_000
        assert history.list_videos(session=session, actor=annotator) == []
        with pytest.raises(NotFound):
            history.get_video(session=session, actor=annotator, video_id=listed.id)
