"""The upload gate (moodlab/ui/uploads.py) in front of Streamlit's upload endpoint,
called in-process; tests/e2e/test_server_bounds.py sends a real anonymous upload."""

from __future__ import annotations

import asyncio

import pytest
from starlette.exceptions import HTTPException

from moodlab.ui import uploads


def put(session_id: str, chunks: list[bytes], *, length: int | None = None):
    """(status or None, bytes the inner app read) for a PUT of ``chunks``."""
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope = {
        "type": "http",
        "method": "PUT",
        "path": f"{uploads.UPLOAD_PREFIX}{session_id}/file-1",
        "headers": headers,
    }
    pending = list(chunks)
    sent: list[dict] = []
    read = 0

    async def receive():
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):  # stands in for Streamlit: reads everything
        nonlocal read
        while True:
            message = await receive()
            read += len(message["body"])
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    asyncio.run(uploads.UploadGate(app)(scope, receive, send))
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    return status, read


@pytest.fixture
def allowed_session():
    uploads._allowances["tab-1"] = 100_000
    yield "tab-1"
    uploads._allowances.pop("tab-1", None)


def test_a_session_without_an_upload_field_may_not_upload():
    assert put("anonymous-tab", [b"x" * 10]) == (403, 0)


def test_an_allowed_session_uploads_up_to_its_page_limit(allowed_session):
    assert put(allowed_session, [b"x" * 50_000, b"x" * 50_000]) == (204, 100_000)


def test_an_upload_over_the_limit_is_refused_by_length_or_cut_while_it_streams(allowed_session):
    too_long = 100_000 + uploads.MULTIPART_OVERHEAD_BYTES + 1
    assert put(allowed_session, [b"x"], length=too_long) == (413, 0)
    # Chunked: the gate raises Streamlit's own 413 at the first chunk past the bound.
    with pytest.raises(HTTPException) as cut:
        put(allowed_session, [b"x" * 60_000] * 1_000)
    assert cut.value.status_code == 413
