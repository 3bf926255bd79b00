"""Browser uploads: only from a logged-in page that draws an upload field, only as big
as that page takes.

Streamlit's upload endpoint (``PUT /_stcore/upload_file/{session}/{file}``) takes a file
for any tab's session, logged in or not, up to ``server.maxUploadSize`` (here
``MOODLAB_VIDEO_MAX_BYTES``, for videos), and keeps it in memory until the session ends:
the login page's anonymous session could park four 100 MB files for minutes after its
tab closed. So:

- a page draws its upload field with ``file_uploader`` below (after its login guard),
  which records, for the tab's Streamlit session, the largest file that page takes;
- a run that draws no upload field takes that back (``end_of_run``, from app.py after
  the page: a login form, another page, a logout);
- ``UploadGate``, around the whole app, refuses an upload for a session with no such
  record (403) and one over its page's limit (413: by Content-Length at once, or while
  the body streams in), before Streamlit reads a byte.

The record is replaced, never cleared, while a page with a field reruns, so an upload
that arrives during the rerun its previous upload started is not refused.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import streamlit as st
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

UPLOAD_PREFIX = "/_stcore/upload_file/"
# Room for the multipart framing around one file (Streamlit allows as much again).
MULTIPART_OVERHEAD_BYTES = 64 * 1024

_allowances: dict[str, int] = {}  # Streamlit session id -> largest file, in bytes
_drawn_this_run: set[str] = set()  # sessions whose current run drew an upload field
_lock = threading.Lock()  # script threads write, the server's event loop reads


def file_uploader(label: str, *, max_bytes: int, **kwargs: Any) -> Any:
    """``st.file_uploader`` for a logged-in page: this tab may upload files of at most
    ``max_bytes`` while the page shows."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        with _lock:
            _forget_closed_sessions()
            _allowances[ctx.session_id] = max_bytes
            _drawn_this_run.add(ctx.session_id)
    megabytes = max(1, math.ceil(max_bytes / (1024 * 1024)))  # the browser's own check
    return st.file_uploader(label, max_upload_size=megabytes, **kwargs)


def start_of_run() -> None:
    ctx = get_script_run_ctx()
    if ctx is not None:
        with _lock:
            _drawn_this_run.discard(ctx.session_id)


def end_of_run() -> None:
    """After the page: a run that drew no upload field takes the tab's allowance back.

    It runs in app.py's ``finally``, after ``st.stop()`` too, where any Streamlit
    command raises again: so it keeps to the script's context and moodlab's own state.
    """
    ctx = get_script_run_ctx()
    if ctx is not None:
        with _lock:
            if ctx.session_id not in _drawn_this_run:
                _allowances.pop(ctx.session_id, None)
            _drawn_this_run.discard(ctx.session_id)


def allowance(session_id: str) -> int | None:
    """The largest file this Streamlit session may upload now; None: it may upload none."""
    with _lock:
        return _allowances.get(session_id)


def _forget_closed_sessions() -> None:
    if not Runtime.exists():
        return
    runtime = Runtime.instance()
    for session_id in [s for s in _allowances if not runtime.is_active_session(s)]:
        del _allowances[session_id]


class UploadGate:
    """ASGI middleware in front of Streamlit's upload endpoint (see the module's text)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "PUT"
            or not path.startswith(UPLOAD_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        limit = allowance(path[len(UPLOAD_PREFIX) :].partition("/")[0])
        if limit is None:
            await _refuse(
                scope,
                receive,
                send,
                403,
                "uploads are taken only from a logged-in page with an upload field",
            )
            return
        bound = limit + MULTIPART_OVERHEAD_BYTES
        too_big = f"a file on this page may have at most {limit} bytes"
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > bound):
            await _refuse(scope, receive, send, 413, too_big)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > bound:
                    # Streamlit's handler turns it into the answer, as for its own limit.
                    raise HTTPException(status_code=413, detail=too_big)
            return message

        await self.app(scope, bounded_receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    # The connection closes after the answer: the refused body is never read.
    refusal = PlainTextResponse(text, status_code=status, headers={"Connection": "close"})
    await refusal(scope, receive, send)
