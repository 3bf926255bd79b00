"""``streamlit run``, with a deadline for each request's head (``moodlab serve`` runs this).

Streamlit runs an ``st.App`` with uvicorn and builds uvicorn's settings itself, with no
option for the one bound uvicorn lacks: a connection that sends nothing, or half a
request line, is kept open for as long as it stays (200 such connections were held
open 60 s and more, each a socket and a file descriptor of the server). So this
module runs Streamlit's own command line with one change to the settings it hands
uvicorn: the HTTP protocol is h11's, closing a connection whose request head has not
arrived within ``MOODLAB_HEADER_TIMEOUT_SECONDS`` (docs/security.md, "Bounds before
login"). The body that follows a head is the app's to bound.

It changes Streamlit's private ``_get_uvicorn_config_kwargs``;
tests/e2e/test_server_bounds.py fails if Streamlit renames it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from streamlit.web.server.starlette import starlette_server
from uvicorn.protocols.http.h11_impl import H11Protocol

from moodlab.core.config import Settings


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection that is slow to send a request head."""

    head_timeout: float = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # a whole request head arrived
            self._disarm()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()  # the connection is the websocket's now
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the next request on a kept-alive connection gets the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing():
            self.transport.close()


def bound_streamlit_server(settings: Settings) -> None:
    """Make the uvicorn server Streamlit starts use ``HeadDeadlineProtocol``."""
    build = starlette_server._get_uvicorn_config_kwargs
    HeadDeadlineProtocol.head_timeout = settings.header_timeout_seconds

    def bounded() -> dict[str, Any]:
        return {**build(), "http": HeadDeadlineProtocol}

    starlette_server._get_uvicorn_config_kwargs = bounded


def main() -> None:
    from streamlit.web.cli import main as streamlit_main

    bound_streamlit_server(Settings.from_env())
    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
