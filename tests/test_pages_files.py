"""Pages pass files to the browser by URL (moodlab/ui/files.py), not by their bytes;
the Crawl & import page's held near-duplicates come a page at a time, in one query."""

from __future__ import annotations

import hashlib

from sqlalchemy import event
from sqlalchemy.engine import Engine

from moodlab.core.models import Job, Snapshot, Track, Video
from moodlab.datasets.export import export_path
from moodlab.ui.files import PREFIX
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
