"""Files by URL: images, tracks, videos, frames and exports served to the browser.

A page that passed a file's path or bytes to ``st.image``, ``st.audio``, ``st.video`` or
``st.download_button`` had Streamlit read the whole file into its in-memory media store
on every rerun (32 tracks on the Music page were about 19.5 MB a rerun). Pages pass
these addresses instead, and the browser fetches each file from the route below, which
streams it from disk:

- the route checks the login cookie's session (moodlab/core/sessions.py) and asks the
  file's own area whether this user may read it (``image_file``, ``track_file``, ...:
  the role check per file is the service's, as for any read);
- a file is named by ids and hashes, never by a path: the services look the path up and
  refuse one outside the data or music dir (``file_within``);
- HTTP range requests (a player seeking in a video or track) and HEAD are Starlette's
  ``FileResponse``; an ``ETag`` answers ``If-None-Match`` with 304. Content-addressed
  images are cached for a year (``immutable``), other files are revalidated each time;
  every answer is ``private`` (a shared cache must not keep a logged-in user's file).

The addresses start with ``/app/static/``: ``st.image``, ``st.audio`` and ``st.video``
pass a relative address through unread only under that prefix (Streamlit's static
folder, which moodlab does not turn on), and an ``st.App`` route comes before
Streamlit's own. docs/security.md, "Files by URL".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from moodlab.core import sessions
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import get_database
from moodlab.core.errors import NotFound, PermissionDenied

PREFIX = "/app/static/files"
IMMUTABLE = "private, max-age=31536000, immutable"  # named by the sha256 of its content
REVALIDATE = "private, no-cache"  # may be made again under the same name (an export)


def image_url(sha256: str) -> str:
    """The display copy of a stored image (at most 1280 px on its longest side)."""
    return f"{PREFIX}/display/{sha256}"


def thumbnail_url(sha256: str) -> str:
    """The 128x128 thumbnail of a stored image (center-cropped, as training sees it)."""
    return f"{PREFIX}/thumb/{sha256}"


def held_url(job_id: int, sha256: str) -> str:
    """The display copy of a near-duplicate intake job ``job_id`` held."""
    return f"{PREFIX}/held/{job_id}/{sha256}"


def track_url(key: str) -> str:
    """A track, by its key for the user (moodlab/music/files.py: ``track_keys``)."""
    return f"{PREFIX}/track/{key}"


def video_url(video_id: int, *, download: bool = False) -> str:
    return f"{PREFIX}/video/{video_id}" + ("?download=1" if download else "")


def frame_url(video_id: int, index: int) -> str:
    return f"{PREFIX}/frame/{video_id}/{index}"


def export_url(snapshot_id: int) -> str:
    """Snapshot ``snapshot_id``'s ImageFolder zip, as a download."""
    return f"{PREFIX}/export/{snapshot_id}"


@dataclass(frozen=True)
class Served:
    path: Path
    cache: str = REVALIDATE
    download_name: str | None = None  # set: sent as an attachment of this name


def _image(db: Session, actor: Actor, settings: Settings, size: str, sha256: str) -> Served:
    from moodlab.images.files import image_file

    path = image_file(actor=actor, settings=settings, sha256=sha256, size=size)
    return Served(path, IMMUTABLE)


def _held(db: Session, actor: Actor, settings: Settings, job_id: str, sha256: str) -> Served:
    from moodlab.images.files import held_file

    path = held_file(
        session=db, actor=actor, settings=settings, job_id=_number(job_id), sha256=sha256
    )
    return Served(path, IMMUTABLE)


def _track(db: Session, actor: Actor, settings: Settings, key: str) -> Served:
    from moodlab.music.files import track_file

    return Served(track_file(session=db, actor=actor, settings=settings, key=key))


def _video(db: Session, actor: Actor, settings: Settings, video_id: str) -> Served:
    from moodlab.video.files import output_file

    path = output_file(session=db, actor=actor, settings=settings, video_id=_number(video_id))
    return Served(path, download_name=f"moodlab-video-{video_id}{path.suffix}")


def _frame(db: Session, actor: Actor, settings: Settings, video_id: str, index: str) -> Served:
    from moodlab.video.files import frame_file

    path = frame_file(
        session=db, actor=actor, settings=settings, video_id=_number(video_id), index=_number(index)
    )
    return Served(path)


def _export(db: Session, actor: Actor, settings: Settings, snapshot_id: str) -> Served:
    from moodlab.datasets.files import export_file

    path = export_file(session=db, actor=actor, settings=settings, snapshot_id=_number(snapshot_id))
    return Served(path, download_name=path.name)


# The first part of an address after PREFIX, and how many parts follow it.
KINDS: dict[str, tuple[int, Callable[..., Served]]] = {
    "display": (1, lambda db, actor, settings, sha: _image(db, actor, settings, "display", sha)),
    "thumb": (1, lambda db, actor, settings, sha: _image(db, actor, settings, "thumb", sha)),
    "held": (2, _held),
    "track": (1, _track),
    "video": (1, _video),
    "frame": (2, _frame),
    "export": (1, _export),
}


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise NotFound(f"{text[:20]!r} is not an id")
    return int(text)


def _resolve(token: str, kind: str, parts: list[str]) -> Served | None:
    """The file at ``kind/parts`` for the cookie's user; None when the session is gone."""
    settings = Settings.from_env()
    with get_database(settings.database_url).session() as db:
        resumed = sessions.resume(session=db, settings=settings, token=token)
        if resumed.actor is None:
            return None
        if kind not in KINDS or len(parts) != KINDS[kind][0]:
            raise NotFound("no such file")
        return KINDS[kind][1](db, resumed.actor, settings, *parts)


def _etag(path: Path) -> tuple[str, object]:
    stat = path.stat()
    tag = hashlib.sha256(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode()).hexdigest()
    return f'"{tag[:32]}"', stat


def _refusal(text: str, status: int) -> Response:
    return Response(text, status_code=status, headers={"Cache-Control": "no-store"})


async def serve_file(request: Request) -> Response:
    token = request.cookies.get(sessions.COOKIE_NAME)
    kind, _, rest = request.path_params["path"].partition("/")
    if not token:
        return _refusal("log in to moodlab to see this file", 401)
    try:
        served = await run_in_threadpool(_resolve, token, kind, rest.split("/") if rest else [])
    except PermissionDenied as exc:
        return _refusal(str(exc), 403)
    except NotFound as exc:
        return _refusal(str(exc), 404)
    if served is None:
        return _refusal("your session ended: log in to moodlab again", 401)
    etag, stat = _etag(served.path)
    headers = {
        "Cache-Control": served.cache,
        "ETag": etag,
        "Vary": "Cookie",
        "X-Content-Type-Options": "nosniff",
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    attachment = served.download_name is not None and (
        kind == "export" or request.query_params.get("download") == "1"
    )
    if attachment:
        headers["Content-Disposition"] = (
            f"attachment; filename*=utf-8''{quote(str(served.download_name))}"
        )
    return FileResponse(served.path, headers=headers, stat_result=stat)  # type: ignore[arg-type]


ROUTES = [Route(f"{PREFIX}/{{path:path}}", serve_file, methods=["GET", "HEAD"])]
