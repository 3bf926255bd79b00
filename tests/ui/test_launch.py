"""moodlab/ui/launch.py hands Streamlit's uvicorn the protocol with a deadline for
request heads (tests/e2e/test_server_bounds.py checks the deadline on a real server)."""

from streamlit.web.server.starlette import starlette_server

from moodlab.core.config import Settings
from moodlab.ui import launch


def test_streamlits_uvicorn_settings_get_the_head_deadline(monkeypatch):
    # Streamlit's private function; restored after the test.
    original = starlette_server._get_uvicorn_config_kwargs
    monkeypatch.setattr(starlette_server, "_get_uvicorn_config_kwargs", original)
    monkeypatch.setattr(launch.HeadDeadlineProtocol, "head_timeout", 10.0)
    launch.bound_streamlit_server(Settings.from_env({"MOODLAB_HEADER_TIMEOUT_SECONDS": "3"}))
    kwargs = starlette_server._get_uvicorn_config_kwargs()
    assert kwargs["http"] is launch.HeadDeadlineProtocol
    assert launch.HeadDeadlineProtocol.head_timeout == 3.0
    assert kwargs["ws_max_size"] == original()["ws_max_size"], "Streamlit's own settings stay"
