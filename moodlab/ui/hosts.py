"""The Host check: the web app answers only to the names it is served under.

DNS rebinding: a page on any site can point a name of its own (``rebind.example``) at
127.0.0.1. The browser then treats the moodlab on this machine as that site, so the
site's scripts read its pages and post to its forms; comparing ``Origin`` with ``Host``
does not help, as the page sends its own name as both. The name is what differs: a
request or websocket whose Host is not one moodlab serves gets 400 before Streamlit or
the login routes see it (docs/security.md, "The Host check").

Served names: localhost, 127.0.0.1 and [::1] on the listening port, the name or address
``moodlab serve --host`` was given (``MOODLAB_HOST``) on that port, the address the
connection came to (what a browser typed as an IP address), and the names of
``MOODLAB_ALLOWED_HOSTS`` (``name`` on any port, ``name:port`` on that one).

Starlette's TrustedHostMiddleware is not used: it ignores the port and cuts an IPv6
Host such as ``[::1]:8501`` at its first colon.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from moodlab.core.config import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Listening on these means every interface: no name to add.
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})  # noqa: S104
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name``, ``name:port``, ``[v6]`` or ``[v6]:port`` as (name, port); None if malformed.

    Names are lower-cased without a trailing dot; an IPv6 address loses its brackets.
    """
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or not _is_ipv6(name) or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else None
    else:
        name, colon, port_text_or_empty = value.partition(":")
        port_text = port_text_or_empty if colon else None
        if ":" in port_text_or_empty:
            return None  # an IPv6 address without brackets, or worse
    name = name.rstrip(".")
    if not name or any(c.isspace() or c in "/\\@?#" for c in name):
        return None
    if port_text is None:
        return name, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return name, int(port_text)


def _is_ipv6(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).version == 6
    except ValueError:
        return False


def _same_address(name: str, address: str) -> bool:
    try:
        typed, local = ipaddress.ip_address(name), ipaddress.ip_address(address)
    except ValueError:
        return False
    # Listening on "::", an IPv4 connection's local address comes as ::ffff:a.b.c.d.
    if isinstance(local, ipaddress.IPv6Address) and local.ipv4_mapped is not None:
        return typed in (local, local.ipv4_mapped)
    return typed == local


@dataclass(frozen=True)
class HostPolicy:
    """The names the app answers to."""

    names: frozenset[str]  # on the port the connection came to
    any_port: frozenset[str]
    with_port: frozenset[tuple[str, int]]

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        names = set(LOOPBACK_NAMES)
        address = settings.host.strip().lower()
        if address in WILDCARD_ADDRESSES:
            pass  # every interface: the typed address is checked per connection
        elif _is_ipv6(address):
            names.add(address)
        elif listening := split_host(address):
            names.add(listening[0])
        any_port: set[str] = set()
        with_port: set[tuple[str, int]] = set()
        for entry in settings.allowed_host_entries:
            name, port = split_host(entry) or (entry, None)  # Settings checked the form
            if port is None:
                any_port.add(name)
            else:
                with_port.add((name, port))
        return cls(frozenset(names), frozenset(any_port), frozenset(with_port))

    def allows(self, host: str, *, server: tuple[str, int] | None, scheme: str) -> bool:
        """Whether a request with this Host header, to ``server`` (the connection's local
        address and port), is for moodlab."""
        parsed = split_host(host)
        if parsed is None:
            return False
        name, port = parsed
        port = port if port is not None else DEFAULT_PORTS.get(scheme, 80)
        if name in self.any_port or (name, port) in self.with_port:
            return True
        if server is None or port != server[1]:
            return False
        # An IP address the connection really came to is no rebinding: that takes a name.
        return name in self.names or _same_address(name, server[0])


class HostCheck:
    """ASGI middleware around the whole app: 400 for a Host moodlab does not serve."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host")
            server = scope.get("server")
            where = (str(server[0]), int(server[1])) if server and server[1] else None
            scheme = scope.get("scheme", "http")
            if host is None or not self.policy.allows(host, server=where, scheme=scheme):
                # Starlette sends it as a refused websocket's HTTP answer too.
                refusal = PlainTextResponse(
                    "this server does not answer to that Host header: it serves moodlab"
                    " under its own names only (MOODLAB_ALLOWED_HOSTS adds one)",
                    status_code=400,
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
