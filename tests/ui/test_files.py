"""moodlab/ui/files.py: files by URL, called in-process through the route (no socket).

Real files under the test's data and music dirs, real rows, real login sessions.
"""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from starlette.routing import Router

from moodlab.core import sessions
from moodlab.core.models import Job, Role, Snapshot, Track, Video
from moodlab.core.storage import ContentStore
from moodlab.datasets.export import export_path
from moodlab.images.intake import display_path, thumbnail_path
from moodlab.music.files import track_keys
from moodlab.ui import files
from tests.conftest import add_user
from tests.media import jpeg, png

APP = Router(routes=files.ROUTES)


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body


def get(url: str, token: str | None = None, method: str = "GET", **headers: str) -> Answer:
    path, _, query = url.partition("?")
    sent = {"host": "127.0.0.1:8501", **{k.replace("_", "-"): v for k, v in headers.items()}}
    if token:
        sent["cookie"] = f"{sessions.COOKIE_NAME}={token}"
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k.encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8501),
        "scheme": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
    }
    messages: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    asyncio.run(APP(scope, receive, send))
    start = messages[0]
    answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return Answer(start["status"], answer_headers, body)


def login(database, actor) -> str:
    with database.session() as session:
        _, ticket = sessions.start(session=session, actor=actor)
        return sessions.redeem_ticket(session=session, ticket=ticket)


def stored_image(settings, seed: int = 1) -> str:
    data = jpeg(seed)
    sha = hashlib.sha256(data).hexdigest()
    store = ContentStore(settings.data_dir)
    for path, content in (
        (display_path(store, sha), data),
        (thumbnail_path(store, sha), png(seed)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return sha


def test_an_image_needs_a_live_login_and_is_cached_by_its_hash(database, settings, annotator):
    sha = stored_image(settings)
    url = files.image_url(sha)
    assert url.startswith("/app/static/"), "st.image passes only this prefix through unread"
    assert get(url).status == 401
    assert get(url, "not-a-session").status == 401
    token = login(database, annotator)
    answer = get(url, token)
    assert answer.status == 200
    assert answer.body == display_path(ContentStore(settings.data_dir), sha).read_bytes()
    assert answer.headers["cache-control"] == files.IMMUTABLE
    assert answer.headers["x-content-type-options"] == "nosniff"
    again = get(url, token, if_none_match=answer.headers["etag"])
    assert again.status == 304 and again.body == b""
    thumb = get(files.thumbnail_url(sha), token)
    assert thumb.status == 200 and thumb.body.startswith(b"\x89PNG")
    with database.session() as session:
        sessions.end(session=session, token=token)
    assert get(url, token).status == 401, "a logged-out cookie opens nothing"


def test_range_requests_give_the_bytes_asked_for(database, settings, lead):
    sha = stored_image(settings)
    whole = display_path(ContentStore(settings.data_dir), sha).read_bytes()
    token = login(database, lead)
    part = get(files.image_url(sha), token, range="bytes=100-199")
    assert part.status == 206
    assert part.body == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    head = get(files.image_url(sha), token, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(whole))


def test_no_path_leads_out_of_the_data_dir(database, settings, lead, tmp_path):
    token = login(database, lead)
    secret = tmp_path / "secret.txt"
    secret.write_text("not moodlab's")
    for url in (
        f"{files.PREFIX}/display/../../secret.txt",
        f"{files.PREFIX}/display/%2e%2e%2fsecret.txt",
        f"{files.PREFIX}/display/{'a' * 63}",
        f"{files.PREFIX}/nothing/{'a' * 64}",
        f"{files.PREFIX}/video/1/../../x",
    ):
        answer = get(url, token)
        assert answer.status == 404, url
        assert b"not moodlab" not in answer.body
    # A display copy that is a link out of the data dir is refused as missing.
    sha = "b" * 64
    link = display_path(ContentStore(settings.data_dir), sha)
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(secret, link)
    assert get(files.image_url(sha), token).status == 404
    # A held near-duplicate whose recorded preview leads out of the data dir, likewise.
    with database.session() as session:
        job = Job(kind="import", params={}, status="succeeded")
        job.result = {
            "duplicate_sources": [
                {"sha256": sha, "duplicate_of": 1, "held": "x", "preview": "../secret.txt"}
            ]
        }
        session.add(job)
        session.flush()
        job_id = job.id
    assert get(files.held_url(job_id, sha), token).status == 404


def test_held_near_duplicates_and_exports_are_the_leads(database, settings, lead, annotator):
    preview = settings.data_dir / "held" / "job1" / "c.jpg"
    preview.parent.mkdir(parents=True)
    preview.write_bytes(jpeg(3))
    with database.session() as session:
        job = Job(kind="import", params={}, status="succeeded")
        job.result = {
            "duplicate_sources": [
                {"sha256": "c" * 64, "duplicate_of": 1, "held": "x", "preview": "held/job1/c.jpg"}
            ]
        }
        snapshot = Snapshot(rules={}, manifest_sha256="0" * 64, train_counts={}, test_counts={})
        session.add_all([job, snapshot])
        session.flush()
        job_id, snapshot_id = job.id, snapshot.id
    zipped = export_path(settings, snapshot_id)
    zipped.parent.mkdir(parents=True)
    zipped.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    leads, annotators = login(database, lead), login(database, annotator)
    assert get(files.held_url(job_id, "c" * 64), leads).body == preview.read_bytes()
    assert get(files.held_url(job_id, "c" * 64), annotators).status == 403
    download = get(files.export_url(snapshot_id), leads)
    assert download.status == 200 and download.body == zipped.read_bytes()
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == files.REVALIDATE
    refused = get(files.export_url(snapshot_id), annotators)
    assert refused.status == 403 and b"lead" in refused.body
    assert get(files.export_url(snapshot_id + 1), leads).status == 404


def add_video(database, settings, path: str, owner) -> int:
    (settings.data_dir / path).parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / path).write_bytes(b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 40)
    frame = settings.data_dir / "frames" / f"{owner.id}.jpg"
    frame.parent.mkdir(parents=True, exist_ok=True)
    frame.write_bytes(jpeg(owner.id))
    with database.session() as session:
        video = Video(
            kind="video",
            path=path,
            title="clip",
            mood="Happy",
            confidence=1.0,
            duration_s=1.0,
            seconds=1.0,
            created_by_id=owner.id,
            inputs={},
            report={"frames": [{"path": f"frames/{owner.id}.jpg", "t": 0.0}]},
        )
        session.add(video)
        session.flush()
        return video.id


def test_a_video_is_its_makers_and_the_leads(database, settings, lead, annotator):
    mine = add_video(database, settings, "videos/a.mp4", annotator)
    other = add_user(database, "otto", Role.ANNOTATOR)
    theirs = add_video(database, settings, "videos/b.mp4", other)
    token = login(database, annotator)
    answer = get(files.video_url(mine), token, range="bytes=0-9")
    assert (
        answer.status == 206
        and answer.body == (settings.data_dir / "videos/a.mp4").read_bytes()[:10]
    )
    assert "content-disposition" not in answer.headers
    download = get(files.video_url(mine, download=True), token)
    assert download.headers["content-disposition"].startswith("attachment;")
    assert get(files.frame_url(mine, 0), token).status == 200
    assert get(files.frame_url(mine, 1), token).status == 404
    # Another annotator's video answers as missing, frames too; the lead sees both.
    assert get(files.video_url(theirs), token).status == 404
    assert get(files.frame_url(theirs, 0), token).status == 404
    assert get(files.video_url(theirs), login(database, lead)).status == 200


def test_a_tracks_address_names_neither_its_id_nor_its_file(database, settings, lead, annotator):
    (settings.music_dir / "Happy 1.wav").parent.mkdir(parents=True, exist_ok=True)
    (settings.music_dir / "Happy 1.wav").write_bytes(b"RIFF" + b"\0" * 100)
    with database.session() as session:
        track = Track(path="Happy 1.wav", title="Happy 1", mood="Happy", duration_s=1.0)
        session.add(track)
        session.flush()
        track_id = track.id
        keys = {
            who.name: track_keys(session=session, actor=who)[track_id] for who in (lead, annotator)
        }
    assert keys["lena"] != keys["anna"], "each user has addresses of their own"
    url = files.track_url(keys["anna"])
    assert "Happy" not in url and f"/{track_id}" not in url
    assert get(url, login(database, annotator)).body.startswith(b"RIFF")
    assert get(url, login(database, lead)).status == 404, "another user's address"


@pytest.mark.parametrize("kind", ["display", "thumb", "track", "video", "frame", "export", "held"])
def test_every_kind_refuses_an_anonymous_visitor(kind):
    assert get(f"{files.PREFIX}/{kind}/1").status == 401
