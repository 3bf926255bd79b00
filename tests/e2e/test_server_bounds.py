"""A real `moodlab serve` on loopback, spoken to over raw sockets and websockets: what
it refuses before anyone logs in (docs/security.md, "The Host check" and "Bounds
before login")."""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

pytestmark = pytest.mark.e2e

SERVER_ENV = {"MOODLAB_HEADER_TIMEOUT_SECONDS": "1", "MOODLAB_WEBSOCKETS_PER_ADDRESS": "3"}
REBIND = "rebind.example"


def port_of(server: str) -> int:
    port = urlsplit(server).port
    assert port is not None
    return port


def status_of(port: int, method: str, path: str, host: str, body: bytes = b"", **headers) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        return conn.getresponse().status
    finally:
        conn.close()


def open_stream(port: int, host: str | None = None) -> ClientConnection:
    """A websocket to Streamlit's stream, with the given Host (over 127.0.0.1 anyway)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return connect(
        f"ws://{host or f'127.0.0.1:{port}'}/_stcore/stream",
        sock=sock,
        subprotocols=[Subprotocol("streamlit")],
        open_timeout=10,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/_stcore/health"),
        ("POST", "/auth/session"),
        ("POST", "/auth/logout"),
        ("PUT", "/_stcore/upload_file/some-session/some-file"),
    ],
)
def test_a_request_for_another_host_gets_400(server, method, path):
    port = port_of(server)
    origin = f"http://{REBIND}:{port}"
    body = json.dumps({"ticket": "x"}).encode() if path.startswith("/auth") else b""
    assert status_of(port, method, path, f"{REBIND}:{port}", body, Origin=origin) == 400


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_loopback_names_on_the_port_are_served(server, host):
    port = port_of(server)
    assert status_of(port, "GET", "/_stcore/health", host.format(port=port)) == 200
    assert status_of(port, "GET", "/_stcore/health", host.format(port=port + 1)) == 400


def test_a_websocket_for_another_host_is_refused(server):
    port = port_of(server)
    with pytest.raises(InvalidStatus) as refused:
        open_stream(port, f"{REBIND}:{port}")
    assert refused.value.response.status_code == 400
    with open_stream(port):  # the same socket path under its own name opens
        pass


def test_a_chunked_login_body_is_cut_off_after_4_kb(server):
    port = port_of(server)
    head = (
        f"POST /auth/session HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + chunk * 5)  # 5 KB and no end: the body goes on, for all it says
        answer = sock.recv(1024)  # before: no answer until the body ends (a timeout here)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        while answer:  # and the server closes: the rest of the body is never read
            answer = sock.recv(1024)


@pytest.mark.parametrize("opening", [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1"])
def test_a_connection_without_a_whole_request_head_is_closed(server, opening):
    port = port_of(server)
    with socket.create_connection(("127.0.0.1", port), timeout=8) as sock:
        sock.sendall(opening)
        started = time.monotonic()
        assert sock.recv(1024) == b"", "closed without an answer"  # before: a timeout
        assert time.monotonic() - started < 4  # MOODLAB_HEADER_TIMEOUT_SECONDS is 1 here


def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_head(server):
    conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=8)
    conn.request("GET", "/_stcore/health")
    assert conn.getresponse().read() == b"ok"
    assert conn.sock is not None
    conn.sock.sendall(b"GET / HTTP/1.1\r\n")
    started = time.monotonic()
    assert conn.sock.recv(1024) == b""
    assert time.monotonic() - started < 4
    conn.close()


def test_websockets_per_client_address_are_capped(server):
    port = port_of(server)
    time.sleep(0.5)  # a websocket an earlier test closed is no longer counted
    with ExitStack() as held:
        first = held.enter_context(open_stream(port))
        last = [held.enter_context(open_stream(port)) for _ in range(2)][-1]
        with pytest.raises(InvalidStatus) as refused:
            open_stream(port)
        assert refused.value.response.status_code == 429
        time.sleep(1.5)  # past the header deadline: an open websocket is not cut
        first.ping().wait(5)
        last.close()
        time.sleep(0.5)
        held.enter_context(open_stream(port))  # a closed one frees its place


def anonymous_session(ws: ClientConnection) -> str:
    """The Streamlit session id of a tab that has not logged in (the login page's)."""
    back = BackMsg()
    back.rerun_script.query_string = ""
    ws.send(back.SerializeToString())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message = ForwardMsg()
        message.ParseFromString(ws.recv(timeout=30))
        if message.WhichOneof("type") == "new_session":
            return message.new_session.initialize.session_id
    raise AssertionError("no new_session message within 30 s")


def test_a_tab_that_is_not_logged_in_cannot_upload(server):
    port = port_of(server)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/_stcore/health")  # sets Streamlit's XSRF cookie, as for a tab
    response = conn.getresponse()
    response.read()
    xsrf = next(
        value.split(";")[0].split("=", 1)[1]
        for name, value in response.getheaders()
        if name.lower() == "set-cookie" and value.startswith("_streamlit_xsrf=")
    )
    with open_stream(port) as ws:
        session_id = anonymous_session(ws)
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            f"Content-Type: image/png\r\n\r\n{'x' * 1_000}\r\n--{boundary}--\r\n"
        ).encode()
        conn.request(
            "PUT",
            f"/_stcore/upload_file/{session_id}/{uuid.uuid4().hex}",
            body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-Xsrftoken": xsrf,
                "Cookie": f"_streamlit_xsrf={xsrf}",
            },
        )
        # A small file: all of it reaches the server before it refuses and closes, so the
        # close sends no reset that could cut the answer short.
        answer = conn.getresponse()
        # Before: 204, the file kept in the server's memory for the session.
        assert answer.status == 403, answer.read()
        assert b"logged-in page" in answer.read()
    conn.close()
