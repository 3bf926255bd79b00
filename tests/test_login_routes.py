"""moodlab/ui/web.py's login-cookie routes, called in-process (no socket at all)."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request

from moodlab.core import sessions
from moodlab.ui import web


def post(handler, body: bytes, **headers: str):
    headers = {"host": "127.0.0.1:8501", "content-length": str(len(body)), **headers}
    scope = {
        "type": "http",
        "method": "POST",
        "path": web.SESSION_PATH,
        "query_string": b"",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8501),
        "scheme": "http",
    }

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    return asyncio.run(handler(Request(scope, receive)))


def ticket_for(database, actor) -> str:
    with database.session() as session:
        return sessions.start(session=session, actor=actor)[1]


def test_a_ticket_becomes_an_httponly_strict_cookie_once(database, annotator):
    body = json.dumps({"ticket": ticket_for(database, annotator)}).encode()
    response = post(web.open_session, body, origin="http://127.0.0.1:8501")
    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie, "plain HTTP here"
    again = post(web.open_session, body, origin="http://127.0.0.1:8501")
    assert again.status_code == 403 and "set-cookie" not in again.headers


def test_behind_a_local_tls_proxy_the_cookie_is_secure(database, annotator):
    body = json.dumps({"ticket": ticket_for(database, annotator)}).encode()
    response = post(
        web.open_session, body, origin="https://127.0.0.1:8501", x_forwarded_proto="https"
    )
    assert "Secure" in response.headers["set-cookie"]


def test_cross_site_and_odd_requests_are_refused(database, annotator):
    body = json.dumps({"ticket": ticket_for(database, annotator)}).encode()
    assert post(web.open_session, body, origin="http://evil.example").status_code == 403
    assert post(web.open_session, body, sec_fetch_site="cross-site").status_code == 403
    assert post(web.open_session, b"not json").status_code == 403
    assert post(web.open_session, b"x" * 10_000).status_code == 413
    # The refused requests did not use the ticket up.
    assert post(web.open_session, body, origin="http://127.0.0.1:8501").status_code == 204


def test_logout_ends_the_cookies_session_and_deletes_the_cookie(database, settings, annotator):
    body = json.dumps({"ticket": ticket_for(database, annotator)}).encode()
    cookie = post(web.open_session, body).headers["set-cookie"]
    token = cookie.split(";")[0].split("=", 1)[1]
    response = post(web.close_session, b"", cookie=f"{sessions.COOKIE_NAME}={token}")
    assert response.status_code == 204
    assert (
        "Max-Age=0" in response.headers["set-cookie"]
        or "expires" in response.headers["set-cookie"].lower()
    )
    with database.session() as session:
        assert sessions.resume(session=session, settings=settings, token=token).actor is None


def test_a_chunked_body_is_read_only_up_to_the_bound(database, annotator):
    """No Content-Length (chunked): the route stops reading past 4 KB and answers 413."""
    chunks_read = 0

    async def receive():
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b" " * 1024, "more_body": chunks_read < 10_000}

    scope = {
        "type": "http",
        "method": "POST",
        "path": web.SESSION_PATH,
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8501"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8501),
        "scheme": "http",
    }
    response = asyncio.run(web.open_session(Request(scope, receive)))
    assert response.status_code == 413
    assert chunks_read <= web.MAX_BODY_BYTES // 1024 + 1  # before: all 10,000 (10 MB)


def test_a_body_dripped_slower_than_the_deadline_gets_408(database, annotator, monkeypatch):
    monkeypatch.setattr(web, "BODY_SECONDS", 0.2)

    async def receive():
        await asyncio.sleep(0.15)
        return {"type": "http.request", "body": b" ", "more_body": True}

    scope = {
        "type": "http",
        "method": "POST",
        "path": web.SESSION_PATH,
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8501"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8501),
        "scheme": "http",
    }
    assert asyncio.run(web.open_session(Request(scope, receive))).status_code == 408
