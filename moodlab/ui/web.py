"""moodlab's own HTTP routes beside Streamlit's: the login cookie (docs/security.md).

Streamlit's script runs over a websocket and cannot set a cookie, and a cookie set
from JavaScript cannot be HttpOnly. So the app runs as an ``st.App`` (asgi.py at the
project root, ASGI on Starlette) with two routes of its own:

- ``POST /auth/session`` takes the one-time ticket a fresh login left in the page and
  answers with the session token in an HttpOnly, SameSite=Strict cookie;
- ``POST /auth/logout`` ends the cookie's session and deletes the cookie.

Both refuse a request whose Origin is another site. Files (images, tracks, videos,
exports) have their own route, moodlab/ui/files.py.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from moodlab.core import sessions
from moodlab.core.config import Settings
from moodlab.core.db import get_database

SESSION_PATH = "/auth/session"
LOGOUT_PATH = "/auth/logout"
MAX_BODY_BYTES = 4096  # a ticket is a few dozen bytes of JSON
# A ticket arrives in one packet; a client that drips it gets no more than this.
BODY_SECONDS = 10
TOO_LONG = "a ticket is a short JSON body"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        # Browsers send Origin on every POST from a page; a missing one is not a
        # cross-site request by a browser.
        return request.headers.get("sec-fetch-site", "same-origin") == "same-origin"
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _is_https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    # Behind a TLS proxy on this machine (docs/security.md), the proxy says so.
    client = request.client.host if request.client else ""
    local = client in ("127.0.0.1", "::1")
    return local and request.headers.get("x-forwarded-proto", "") == "https"


def _redeem(ticket: str) -> str | None:
    database = get_database(Settings.from_env().database_url)
    with database.session() as db:
        return sessions.redeem_ticket(session=db, ticket=ticket)


def _end(token: str) -> None:
    database = get_database(Settings.from_env().database_url)
    with database.session() as db:
        sessions.end(session=db, token=token)


async def _read_bounded(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY_BYTES, whatever the transfer encoding.

    A Content-Length check alone is no bound: a chunked body has none, and Starlette's
    ``request.body()`` reads all of it (one 800 MB body took the server from 190 MB to
    1.57 GB).
    """
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _closing(text: str, status: int) -> Response:
    """A refusal after which the server closes the connection: the rest of the body
    is never read (uvicorn would otherwise read and drop it to the end)."""
    return Response(text, status_code=status, headers={"Connection": "close"})


async def open_session(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    length = request.headers.get("content-length") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return _closing(TOO_LONG, 413)
    try:
        async with asyncio.timeout(BODY_SECONDS):
            body = await _read_bounded(request)
    except TimeoutError:
        return _closing(f"the ticket did not arrive within {BODY_SECONDS} s", 408)
    if body is None:
        return _closing(TOO_LONG, 413)
    try:
        ticket = json.loads(body).get("ticket", "")
    except (ValueError, AttributeError):
        ticket = ""
    token = await run_in_threadpool(_redeem, str(ticket)) if ticket else None
    if token is None:
        return Response("no such login", status_code=403)
    response = Response(status_code=204)
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        max_age=int(sessions.MAX_AGE.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_is_https(request),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def close_session(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    token = request.cookies.get(sessions.COOKIE_NAME)
    if token:
        await run_in_threadpool(_end, token)
    response = Response(status_code=204)
    response.delete_cookie(
        sessions.COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_is_https(request)
    )
    return response


ROUTES = [
    Route(SESSION_PATH, open_session, methods=["POST"]),
    Route(LOGOUT_PATH, close_session, methods=["POST"]),
]


def cookie_script(path: str, payload: dict[str, str] | None = None) -> str:
    """The page's one line of JavaScript that POSTs to ``path`` (same origin)."""
    body = json.dumps(json.dumps(payload or {}))
    return (
        f"<script>fetch({json.dumps(path)}, {{method: 'POST', credentials: 'same-origin',"
        f" headers: {{'Content-Type': 'application/json'}}, body: {body}}});</script>"
    )
