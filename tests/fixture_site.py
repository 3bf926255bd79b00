"""A real local HTTP server that serves a site built in the test."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Resource:
    body: bytes = b""
    content_type: str = "text/html"
    status: int = 200
    location: str | None = None  # for redirects
    delay: float = 0.0  # seconds before answering


@dataclass
class Site:
    """Path -> Resource, served on ``host``; ``requests`` logs (path, time).

    ``peak_in_flight``: the most requests it held at once, from a request's arrival to
    the start of its answer (a client that waits for each answer before its next request
    never makes it 2), which shows whether a client kept its bound.
    """

    host: str = "127.0.0.1"
    resources: dict[str, Resource] = field(default_factory=dict)
    requests: list[tuple[str, float]] = field(default_factory=list)
    latency: float = 0.0  # added to every response
    peak_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, path: str, body: bytes | str = b"", content_type: str = "text/html", **kw):
        if isinstance(body, str):
            body = body.encode()
        self.resources[path] = Resource(body=body, content_type=content_type, **kw)

    def page(self, path: str, html: str) -> None:
        self.add(path, f"<!doctype html><html><body>{html}</body></html>")

    def start(self) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                with site._lock:
                    site.requests.append((self.path, time.monotonic()))
                    site._in_flight += 1
                    site.peak_in_flight = max(site.peak_in_flight, site._in_flight)
                resource = site.resources.get(self.path)
                try:
                    time.sleep(site.latency + (resource.delay if resource else 0))
                finally:
                    with site._lock:
                        site._in_flight -= 1
                if resource is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(resource.status)
                if resource.location:
                    self.send_header("Location", resource.location)
                self.send_header("Content-Type", resource.content_type)
                self.send_header("Content-Length", str(len(resource.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(resource.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def requested(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)
