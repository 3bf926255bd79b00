"""A cap on the app connections one client address holds open.

Every browser tab runs its page over one websocket (``/_stcore/stream``), and each
connection can ask for script runs, logged in or not: 100 anonymous websockets asking
for reruns made the app unresponsive to everyone for 8-10 s. So one client address
may hold ``MOODLAB_WEBSOCKETS_PER_ADDRESS`` of them (20: twenty tabs); one more is
refused with 429 before Streamlit sees it.

The address is the connection's, or, from a reverse proxy on this machine, the one
it names in X-Forwarded-For (uvicorn's proxy headers, trusted from 127.0.0.1 only).
"""

from __future__ import annotations

from collections import Counter

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class WebsocketCap:
    """ASGI middleware: at most ``per_address`` open websockets per client address."""

    def __init__(self, app: ASGIApp, per_address: int) -> None:
        self.app = app
        self.per_address = per_address
        # One event loop runs every connection: no lock needed.
        self.open: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        if self.open[address] >= self.per_address:
            refusal = PlainTextResponse(
                f"too many open connections from {address} ({self.per_address}, the"
                " MOODLAB_WEBSOCKETS_PER_ADDRESS limit): close a tab and reload",
                status_code=429,
            )
            await refusal(scope, receive, send)
            return
        self.open[address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[address] -= 1
            if self.open[address] <= 0:
                del self.open[address]
