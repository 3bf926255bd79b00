"""What a visitor who has not logged in can make `moodlab serve` hold, on loopback.

    .venv/bin/python benchmarks/hostile_server.py [--login-mb 200] [--head-cap 30]

Starts `moodlab serve --no-worker` on a free port over a fresh workspace in a temp
folder, then measures, each bounded in count and time:

- a chunked ``POST /auth/session`` of ``--login-mb`` MB in 64 KB chunks: its answer,
  and the web app process's resident memory before and its peak after (VmHWM);
- a connection that sends half a request head: how long the server keeps it open
  (given up after ``--head-cap`` seconds);
- a 10 MB upload from a tab that has not logged in: the upload endpoint's answer;
- 25 websockets from one address: how many the server accepts.

docs/security.md ("Bounds before login") quotes its output.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 64 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(  # noqa: S310
                f"http://127.0.0.1:{port}/_stcore/health", timeout=1
            ) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("moodlab serve did not answer")


def app_pid(serve_pid: int) -> int:
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split()
    return int(children[0])


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def chunked_login(port: int, megabytes: int) -> tuple[str, float, int]:
    """(the answer's status line, seconds, bytes sent) for a chunked login body."""
    head = (
        f"POST /auth/session HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
    sent = 0
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        try:
            for _ in range(megabytes * 1024 * 1024 // CHUNK):
                sock.sendall(chunk)
                sent += CHUNK
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the end
        try:
            answer = sock.recv(1024).split(b"\r\n")[0].decode()
        except OSError as exc:
            answer = f"no answer ({exc.__class__.__name__})"
    return answer or "closed without an answer", time.monotonic() - started, sent


def half_open_lifetime(port: int, cap: float) -> float | None:
    with socket.create_connection(("127.0.0.1", port), timeout=cap) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1")
        started = time.monotonic()
        try:
            sock.recv(1024)
        except TimeoutError:
            return None
        return time.monotonic() - started


def stream(port: int) -> ClientConnection:
    return connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=[Subprotocol("streamlit")],
        open_timeout=10,
    )


def anonymous_upload(port: int, megabytes: int = 10) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/_stcore/health")  # sets Streamlit's XSRF cookie
    response = conn.getresponse()
    response.read()
    conn.close()
    cookie = response.getheader("set-cookie") or ""
    xsrf = cookie.split(";")[0].split("=", 1)[1]
    with stream(port) as ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        ws.send(back.SerializeToString())
        session_id = ""
        while not session_id:
            message = ForwardMsg()
            message.ParseFromString(ws.recv(timeout=30))
            if message.WhichOneof("type") == "new_session":
                session_id = message.new_session.initialize.session_id
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        body += b"x" * (megabytes * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
        head = (
            f"PUT /_stcore/upload_file/{session_id}/{uuid.uuid4().hex} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"X-Xsrftoken: {xsrf}\r\nCookie: _streamlit_xsrf={xsrf}\r\n\r\n"
        ).encode()
        return send_and_answer(port, head, body)


def send_and_answer(port: int, head: bytes, body: bytes) -> str:
    """The answer's status line, and how much of the body went out before it."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        try:
            for start in range(0, len(body), CHUNK):
                sock.sendall(body[start : start + CHUNK])
                sent += len(body[start : start + CHUNK])
        except OSError:
            pass  # the server answered and closed before the end
        try:
            answer = sock.recv(1024).split(b"\r\n")[0].decode() or "closed"
        except OSError as exc:
            answer = f"reset ({exc.__class__.__name__})"
    return f"{answer}; {sent / 1024 / 1024:.1f} of {len(body) / 1024 / 1024:.1f} MB sent"


def websockets_accepted(port: int, tries: int = 25) -> int:
    opened = 0
    with contextlib.ExitStack() as held:
        for _ in range(tries):
            with contextlib.suppress(InvalidStatus):
                held.enter_context(stream(port))
                opened += 1
    return opened


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--login-mb", type=int, default=200)
    parser.add_argument("--head-cap", type=float, default=30.0)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = dict(
            os.environ,
            MOODLAB_DATABASE_URL=f"sqlite:///{folder}/moodlab.sqlite",
            MOODLAB_DATA_DIR=f"{folder}/data",
            MOODLAB_MUSIC_DIR=f"{folder}/music",
            MOODLAB_CACHE_DIR=f"{folder}/cache",
            MOODLAB_MUSIC_TRACKS_PER_MOOD="0",
        )
        serve = subprocess.Popen(
            [sys.executable, "-m", "moodlab", "serve", "--no-worker", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(port)
            app = app_pid(serve.pid)
            before = memory_mb(app, "VmRSS")
            answer, seconds, sent = chunked_login(port, args.login_mb)
            time.sleep(1)
            report = {
                "login_body": {
                    "megabytes_offered": args.login_mb,
                    "megabytes_sent_before_the_answer": round(sent / 1024 / 1024, 1),
                    "answer": answer,
                    "seconds": round(seconds, 2),
                    "app_rss_before_mb": round(before, 1),
                    "app_rss_peak_mb": round(memory_mb(app, "VmHWM"), 1),
                },
                "half_open_seconds": half_open_lifetime(port, args.head_cap),
                "half_open_cap_seconds": args.head_cap,
                "anonymous_upload_10mb": anonymous_upload(port),
                "websockets_accepted_of_25": websockets_accepted(port),
            }
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(timeout=30)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
