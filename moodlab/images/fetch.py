"""Polite, guarded HTTP for the crawler.

Every request: http or https only; the host's addresses checked after DNS and
again after every redirect (every address that is not global is refused, also
IPv4 carried inside IPv6, unless the host was explicitly allowed);
redirects followed by hand up to a limit, with loops named; connect and read
timeouts plus a total deadline; a byte limit enforced while streaming.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from moodlab import __version__
from moodlab.images.checks import Rejected

USER_AGENT = f"moodlab/{__version__} (image-mood research crawler)"
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


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


# Not global, though the ``ipaddress`` of some Python 3.11 releases says they are:
# IETF protocol assignments, NAT64 local-use, IPv6 documentation and SRv6 SIDs.
_NOT_GLOBAL = (
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("3fff::/20"),
    ipaddress.ip_network("5f00::/16"),
)
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


class AddressPolicy:
    """Which hosts may be fetched: public addresses, plus private ones of allowed hosts."""

    def __init__(self, allowed_private_hosts: set[str] | None = None):
        self.allowed_private_hosts = {h.lower() for h in allowed_private_hosts or set()}

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise Rejected("bad_url", f"unsupported URL scheme {parts.scheme or '(none)'!r}")
        host = (parts.hostname or "").lower()
        if not host:
            raise Rejected("bad_url", "the URL has no host")
        try:
            infos = socket.getaddrinfo(host, parts.port or 80, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise Rejected("unreachable", f"cannot resolve host {host}: {exc}") from None
        for *_, sockaddr in infos:
            address = sockaddr[0]
            if not is_public_address(address) and host not in self.allowed_private_hosts:
                raise Rejected(
                    "private_address",
                    f"{host} resolves to the non-public address {address}: refused"
                    "; if the seeds are on your own network, tick 'The seeds are on a private"
                    " network' on the Crawl page (`--allow-private` on the command line)",
                )


class Fetcher:
    """GETs through one requests.Session per thread (Session is not thread-safe)."""

    def __init__(self, policy: AddressPolicy, limits: FetchLimits):
        self.policy = policy
        self.limits = limits
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            session.trust_env = False  # no proxies or .netrc from the environment
            self._local.session = session
        return session

    def get(self, url: str, *, max_bytes: int | None = None) -> Fetched:
        """The response after redirects, any status; raises Rejected for what is refused."""
        max_bytes = max_bytes or self.limits.max_bytes
        seen = {url}
        for _ in range(MAX_REDIRECTS + 1):
            self.policy.check(url)
            response = self._request(url)
            self._check_peer(url, response)
            if not response.is_redirect:
                return self._read(url, response, max_bytes)
            response.close()
            target = urljoin(url, response.headers.get("location", ""))
            if target in seen:
                raise Rejected("redirect_loop", f"redirect loop: {url} leads back to {target}")
            seen.add(target)
            url = target
        raise Rejected("redirect_loop", f"more than {MAX_REDIRECTS} redirects")

    def _request(self, url: str) -> requests.Response:
        try:
            return self._session().get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(self.limits.connect_timeout, self.limits.read_timeout),
            )
        except requests.Timeout:
            raise Rejected(
                "timeout", f"timed out: no answer within {self.limits.read_timeout:g} s"
            ) from None
        except requests.RequestException as exc:
            raise Rejected("unreachable", f"cannot connect: {type(exc).__name__}") from None

    def _check_peer(self, url: str, response: requests.Response) -> None:
        """Check the address actually connected to, not only what DNS said a moment ago.

        A host whose DNS answers a public address to the check and a private one to
        the connection (DNS rebinding) is caught here, before its body is read.
        """
        # requests -> urllib3 -> http.client -> the socket: private attributes, so look
        # them up carefully; a response without a body has no socket left to ask.
        body = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(body, "raw", None), "_sock", None)
        if sock is None:
            return
        address = sock.getpeername()[0]
        host = (urlsplit(url).hostname or "").lower()
        if not is_public_address(address) and host not in self.policy.allowed_private_hosts:
            response.close()
            raise Rejected(
                "private_address", f"{host} connected to the non-public address {address}: refused"
            )

    def _read(self, url: str, response: requests.Response, max_bytes: int) -> Fetched:
        with response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise Rejected(
                    "too_large", f"too large: {int(declared):,} bytes (limit {max_bytes:,})"
                )
            started = time.monotonic()
            chunks, size = [], 0
            try:
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise Rejected("too_large", f"too large: over {max_bytes:,} bytes")
                    if time.monotonic() - started > self.limits.deadline:
                        raise Rejected(
                            "timeout", f"timed out: took over {self.limits.deadline:g} s"
                        )
                    chunks.append(chunk)
            except requests.RequestException as exc:
                kind = "timeout" if "timed out" in str(exc).lower() else "unreachable"
                raise Rejected(kind, f"the response broke off: {type(exc).__name__}") from None
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return Fetched(
                url=url, status=response.status_code, content_type=content_type,
                body=b"".join(chunks),
            )  # fmt: skip
