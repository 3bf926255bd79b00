"""Polite, guarded HTTP for the crawler.

Every request: http or https only; the host resolved once and every address
checked (every address that is not global is refused, also IPv4 carried inside
IPv6, unless the host was explicitly allowed), then the connection made to the
checked address itself, so a host whose DNS changes its answer (rebinding) never
gets the request; Host header, TLS server name and certificate check still use
the host name. Redirects followed by hand up to a limit, each target checked
again, with loops named; connect and read timeouts plus a deadline for the whole
response that every read checks; a byte limit enforced while streaming.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from moodlab import __version__
from moodlab.images.checks import Rejected

USER_AGENT = f"moodlab/{__version__} (image-mood research crawler)"
MAX_REDIRECTS = 5
# One read asks for at most this much; the deadline is checked after every read, and
# no read may block past it, so a body dripped a byte at a time is still cut off.
CHUNK = 64 * 1024
# Connection pools kept per fetch thread (one per host and checked address), for keep-alive.
MAX_POOLS = 64

# (family, sockaddr) pairs that passed the address check, in resolver order.
Addresses = tuple[tuple[int, tuple[Any, ...]], ...]


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_bytes: int = 20_000_000

    @property
    def deadline(self) -> float:
        """Seconds one whole response may take: a host that drips bytes is cut off."""
        return self.connect_timeout + 2 * self.read_timeout


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    body: bytes


# Not global, though Python 3.11's ``ipaddress`` says they are (IANA's IPv4 and IPv6
# special-purpose registries, checked block by block in tests/images/test_crawl.py):
# IETF protocol assignments, the deprecated 6to4 relay anycast (RFC 7526; its relays
# forward to whatever IPv6 a packet names), NAT64 local-use, IPv6 documentation and
# SRv6 SIDs.
_NOT_GLOBAL = (
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("192.88.99.0/24"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("3fff::/20"),
    ipaddress.ip_network("5f00::/16"),
)
# IANA's IPv6 address space gives only 2000::/3 to global unicast. The rest is loopback,
# link-local, unique-local, multicast, reserved or the deprecated site-local fec0::/10,
# which ``is_global`` passes (IPv4 carried inside IPv6 is unwrapped and judged first).
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: IPv4 in the last 32 bits


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, NAT64, Teredo), if any."""
    if ip.ipv4_mapped:
        return (ip.ipv4_mapped,)
    if ip.sixtofour:
        return (ip.sixtofour,)
    if ip in _NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip.teredo:
        return ip.teredo  # (server, client)
    return ()


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        ip.is_global
        and (ip.version == 4 or ip in _GLOBAL_UNICAST_V6)
        and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)
        and not any(ip in net for net in _NOT_GLOBAL if net.version == ip.version)
    )


def is_public_address(address: str | int) -> bool:
    """Whether the crawler may connect to ``address``: only globally reachable ones.

    An IPv6 address that embeds IPv4 (mapped, 6to4, NAT64, Teredo) is judged by
    the IPv4 it carries: 2002:7f00:1:: reaches 127.0.0.1, so it is refused.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(_is_global(v4) for v4 in embedded)
    return _is_global(ip)


def default_port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


class AddressPolicy:
    """Which hosts may be fetched: public addresses, plus private ones of allowed hosts."""

    def __init__(self, allowed_private_hosts: set[str] | None = None):
        self.allowed_private_hosts = {h.lower() for h in allowed_private_hosts or set()}

    def check(self, url: str) -> Addresses:
        """Resolve the URL's host once; the addresses to connect to, all of them checked."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise Rejected("bad_url", f"unsupported URL scheme {parts.scheme or '(none)'!r}")
        host = (parts.hostname or "").lower()
        if not host:
            raise Rejected("bad_url", "the URL has no host")
        try:
            port = default_port(url)
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, ValueError) as exc:
            raise Rejected("unreachable", f"cannot resolve host {host}: {exc}") from None
        addresses = []
        for family, *_, sockaddr in infos:
            address = sockaddr[0]
            if not is_public_address(address) and host not in self.allowed_private_hosts:
                raise Rejected(
                    "private_address",
                    f"{host} resolves to the non-public address {address}: refused"
                    "; if the seeds are on your own network, tick 'The seeds are on a private"
                    " network' on the Crawl page (`--allow-private` on the command line)",
                )
            if (family, sockaddr) not in addresses:
                addresses.append((family, tuple(sockaddr)))
        if not addresses:
            raise Rejected("unreachable", f"cannot resolve host {host}: no address")
        return tuple(addresses)


class _PinnedMixin:
    """Connects to the checked addresses only: no second DNS look-up."""

    pinned: Addresses
    timeout: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        error: OSError | None = None
        for family, sockaddr in self.pinned:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"connecting to {sockaddr[0]} timed out") from exc
            except OSError as exc:
                sock.close()
                error = exc
        raise NewConnectionError(self, f"cannot connect: {error}")  # type: ignore[arg-type]


class _PinnedHTTPConnection(_PinnedMixin, HTTPConnection):
    def __init__(self, *args: Any, pinned: Addresses, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pinned = pinned


class _PinnedHTTPSConnection(_PinnedMixin, HTTPSConnection):
    def __init__(self, *args: Any, pinned: Addresses, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pinned = pinned


class Fetcher:
    """GETs through connection pools of its own, per thread, pinned to checked addresses."""

    def __init__(self, policy: AddressPolicy, limits: FetchLimits):
        self.policy = policy
        self.limits = limits
        self._local = threading.local()

    def _pool(self, url: str, addresses: Addresses) -> urllib3.HTTPConnectionPool:
        pools: OrderedDict = getattr(self._local, "pools", None) or OrderedDict()
        self._local.pools = pools
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), default_port(url)
        key = (parts.scheme, host, port, addresses)
        pool = pools.get(key)
        if pool is not None:
            pools.move_to_end(key)
            return pool
        common: dict[str, Any] = dict(
            maxsize=1,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(
                connect=self.limits.connect_timeout, read=self.limits.read_timeout
            ),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            pinned=addresses,
        )
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                host,
                port,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                server_hostname=host,
                assert_hostname=host,
                **common,
            )
            pool.ConnectionCls = _PinnedHTTPSConnection
        else:
            pool = urllib3.HTTPConnectionPool(host, port, **common)
            pool.ConnectionCls = _PinnedHTTPConnection
        pools[key] = pool
        while len(pools) > MAX_POOLS:
            pools.popitem(last=False)[1].close()
        return pool

    def last_answered(self) -> float:
        """When this thread's latest response began to arrive (the host surely had the
        request by then): politeness delays count from here, whatever the network's lag."""
        return float(getattr(self._local, "answered", 0.0))

    def get(self, url: str, *, max_bytes: int | None = None) -> Fetched:
        """The response after redirects, any status; raises Rejected for what is refused."""
        max_bytes = max_bytes or self.limits.max_bytes
        seen = {url}
        for _ in range(MAX_REDIRECTS + 1):
            addresses = self.policy.check(url)
            started = time.monotonic()
            response = self._request(url, addresses)
            if response.status not in (301, 302, 303, 307, 308) or not response.headers.get(
                "location"
            ):
                return self._read(url, response, max_bytes, started)
            response.release_conn()
            target = urljoin(url, response.headers.get("location", ""))
            if target in seen:
                raise Rejected("redirect_loop", f"redirect loop: {url} leads back to {target}")
            seen.add(target)
            url = target
        raise Rejected("redirect_loop", f"more than {MAX_REDIRECTS} redirects")

    def _request(self, url: str, addresses: Addresses) -> urllib3.BaseHTTPResponse:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pool = self._pool(url, addresses)
        try:
            response = pool.urlopen(
                "GET", target, redirect=False, preload_content=False, assert_same_host=False
            )
            self._local.answered = time.monotonic()
            return response
        except NewConnectionError as exc:
            raise Rejected("unreachable", f"cannot connect: {exc}") from None
        except (ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise Rejected(
                "timeout", f"timed out: no answer within {self.limits.read_timeout:g} s"
            ) from None
        except (HTTPError, OSError) as exc:
            if "timed out" in str(exc).lower():
                raise Rejected(
                    "timeout", f"timed out: no answer within {self.limits.read_timeout:g} s"
                ) from None
            raise Rejected("unreachable", f"cannot connect: {type(exc).__name__}") from None

    def _read(
        self, url: str, response: urllib3.BaseHTTPResponse, max_bytes: int, started: float
    ) -> Fetched:
        deadline = started + self.limits.deadline
        done = False
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise Rejected(
                    "too_large", f"too large: {int(declared):,} bytes (limit {max_bytes:,})"
                )
            sock = getattr(getattr(response, "connection", None), "sock", None)
            chunks, size = [], 0
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Rejected("timeout", f"timed out: took over {self.limits.deadline:g} s")
                if sock is not None:  # no single read may block past the deadline
                    sock.settimeout(min(self.limits.read_timeout, left))
                chunk = response.read1(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise Rejected("too_large", f"too large: over {max_bytes:,} bytes")
                chunks.append(chunk)
            done = True
        except (HTTPError, OSError) as exc:
            if time.monotonic() >= deadline:
                raise Rejected(
                    "timeout", f"timed out: took over {self.limits.deadline:g} s"
                ) from None
            kind = "timeout" if "timed out" in str(exc).lower() else "unreachable"
            raise Rejected(kind, f"the response broke off: {type(exc).__name__}") from None
        finally:
            if done:
                response.release_conn()  # whole: the connection goes back for keep-alive
            else:
                response.close()
                conn = getattr(response, "connection", None)
                if conn is not None:
                    conn.close()
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return Fetched(
            url=url, status=response.status, content_type=content_type, body=b"".join(chunks)
        )
