"""The fetcher on loopback: pinned addresses (no rebinding), drip-fed bodies.

Resolver answers come from a stub (socket.getaddrinfo monkeypatched); every
address connected to is a loopback one, and the servers count what reached them.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from moodlab.images.checks import Rejected
from moodlab.images.fetch import AddressPolicy, Fetcher, FetchLimits

REAL_GETADDRINFO = socket.getaddrinfo


class CountingServer:
    """A loopback HTTP server that counts accepted connections and logs Host headers."""

    def __init__(self, host: str, port: int = 0, *, drip: float = 0.0, body: bytes = b"hello"):
        self.connections = 0
        self.hosts: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.hosts.append(self.headers.get("Host", ""))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for byte in body if drip else [body]:
                    try:
                        self.wfile.write(bytes([byte]) if drip else byte)
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(drip)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address):
                server.connections += 1
                return True

        self.httpd = Server((host, port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    started = [CountingServer("127.0.0.2"), CountingServer("127.0.0.3")]
    yield started
    for server in started:
        server.stop()


def stub_resolver(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """``name`` resolves to answers[name][0], then [1], ... (the last one repeats)."""
    asked: list[str] = []

    def resolve(host, port, *args, **kwargs):
        if host not in answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        asked.append(host)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return asked


def test_a_rebinding_host_gets_the_request_at_the_checked_address_only(monkeypatch):
    checked = CountingServer("127.0.0.2")
    rebound = CountingServer("127.0.0.3", checked.port)  # where a second look-up would go
    # The check hears 127.0.0.2; any later look-up would hear 127.0.0.3, same port.
    asked = stub_resolver(monkeypatch, {"rebind.test": ["127.0.0.2", "127.0.0.3"]})
    try:
        fetcher = Fetcher(AddressPolicy({"rebind.test"}), FetchLimits(0.5, 1.0))
        fetched = fetcher.get(f"http://rebind.test:{checked.port}/page")
        assert fetched.status == 200 and fetched.body == b"hello"
    finally:
        checked.stop()
        rebound.stop()
    assert asked == ["rebind.test"]  # one look-up: the check's
    assert rebound.connections == 0 and rebound.hosts == []
    assert checked.connections == 1
    assert checked.hosts == [f"rebind.test:{checked.port}"]  # the Host header names the host


def test_a_refused_address_gets_no_connection_at_all(monkeypatch, servers):
    target = servers[0]
    stub_resolver(monkeypatch, {"evil.test": ["127.0.0.2"]})
    fetcher = Fetcher(AddressPolicy(), FetchLimits(0.5, 1.0))
    with pytest.raises(Rejected, match="non-public address 127.0.0.2"):
        fetcher.get(f"http://evil.test:{target.port}/")
    time.sleep(0.1)
    assert target.connections == 0 and target.hosts == []


def test_a_redirect_to_a_refused_address_is_not_followed(monkeypatch, servers):
    from tests.fixture_site import Site

    site = Site(host="127.0.0.1").start()
    site.add("/go", status=302, location=f"http://evil.test:{servers[0].port}/")
    stub_resolver(monkeypatch, {"evil.test": ["127.0.0.2"]})
    try:
        fetcher = Fetcher(AddressPolicy({"127.0.0.1"}), FetchLimits(0.5, 1.0))
        with pytest.raises(Rejected, match="non-public address 127.0.0.2"):
            fetcher.get(site.url("/go"))
    finally:
        site.stop()
    assert servers[0].connections == 0


def test_https_pools_name_the_host_for_sni_and_the_certificate(monkeypatch):
    fetcher = Fetcher(AddressPolicy(), FetchLimits())
    pinned = ((socket.AF_INET, ("93.184.216.34", 443)),)
    pool = fetcher._pool("https://images.example.org/a.jpg", pinned)  # nothing connects here
    assert pool.host == "images.example.org"
    assert pool.conn_kw["server_hostname"] == "images.example.org"
    assert pool.assert_hostname == "images.example.org"
    assert pool.conn_kw["pinned"] == pinned


def test_a_dripped_body_stops_within_the_deadline_plus_a_second():
    server = CountingServer("127.0.0.2", drip=1.0, body=b"x" * 60)
    limits = FetchLimits(connect_timeout=0.5, read_timeout=1.5)  # deadline 3.5 s
    try:
        fetcher = Fetcher(AddressPolicy({"127.0.0.2"}), limits)
        started = time.monotonic()
        with pytest.raises(Rejected, match="timed out") as caught:
            fetcher.get(f"http://127.0.0.2:{server.port}/")
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert caught.value.kind == "timeout"
    assert elapsed < limits.deadline + 1.0, elapsed
