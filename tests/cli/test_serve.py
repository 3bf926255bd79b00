"""`moodlab serve` keeps to this machine unless told otherwise, and a network-facing
fresh install asks for the one-time set-up token it prints (docs/security.md)."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest
from streamlit.testing.v1 import AppTest

from moodlab.cli import serve as serving
from moodlab.cli.main import build_parser
from moodlab.core.auth import SETUP_TOKEN_ENV
from moodlab.ui.text import plain
from tests.conftest import PASSWORD, ROOT


class FakeChild:
    def __init__(self, command, **kwargs):
        self.command = command
        self.env = kwargs.get("env")
        self.returncode = 0

    def poll(self):
        return 0  # exits at once: serve stops

    def send_signal(self, _signal):
        pass

    def wait(self, timeout=None):
        return 0


@pytest.fixture
def started(env, monkeypatch):
    children: list[FakeChild] = []

    def popen(command, **kwargs):
        children.append(FakeChild(command, **kwargs))
        return children[-1]

    monkeypatch.setattr(serving.subprocess, "Popen", popen)
    monkeypatch.setattr(serving, "_queue_default_music", lambda database: None)
    return children


def app_child(children):
    return next(c for c in reversed(children) if serving.LAUNCHER in c.command)


def run_serve(argv, capsys):
    args = build_parser().parse_args(["serve", "--no-worker", *argv])
    with pytest.raises(SystemExit):
        args.handler(args)
    return capsys.readouterr()


def test_serve_listens_on_loopback_by_default(started, capsys):
    run_serve([], capsys)
    command = app_child(started).command
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert SETUP_TOKEN_ENV not in app_child(started).env


def test_host_flag_and_setting_expose_it(started, capsys, monkeypatch):
    run_serve(["--host", "::1"], capsys)
    command = app_child(started).command
    assert command[command.index("--server.address") + 1] == "::1"
    monkeypatch.setenv("MOODLAB_HOST", "127.0.0.2")
    run_serve([], capsys)
    command = app_child(started).command
    assert command[command.index("--server.address") + 1] == "127.0.0.2"


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("127.0.0.2", "http://127.0.0.2:8765"),  # before: http://localhost:8765, refused
        ("::1", "http://[::1]:8765"),
        ("127.0.0.1", "http://127.0.0.1:8765"),
    ],
)
def test_serve_prints_the_url_of_the_address_it_listens_on(started, capsys, caplog, address, url):
    caplog.set_level(logging.INFO, logger="moodlab.serve")
    run_serve(["--host", address, "--port", "8765"], capsys)
    assert f"serving on {url} " in caplog.text
    # The app answers to that address too (its Host check).
    assert app_child(started).env["MOODLAB_HOST"] == address


def test_the_app_runs_under_the_launcher_that_bounds_request_heads(started, capsys):
    run_serve([], capsys)
    command = app_child(started).command
    assert command[1:5] == ["-m", "moodlab.ui.launch", "run", str(serving.APP)]


def test_beyond_loopback_a_fresh_install_gets_a_printed_one_time_token(started, capsys):
    # Nothing listens: the child is a fake, so 0.0.0.0 opens no port in this test.
    out = run_serve(["--host", "0.0.0.0"], capsys)  # noqa: S104
    token = re.search(r"one-time set-up token: (\S+)", out.err).group(1)
    expected = hashlib.sha256(token.encode()).hexdigest()
    assert app_child(started).env[SETUP_TOKEN_ENV] == expected
    assert token not in str(app_child(started).env), "only the token's hash is handed on"


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),  # noqa: S104
        ("::", False),
        ("192.168.1.5", False),
        ("lab.example", False),
    ],
)
def test_what_counts_as_this_machine_only(address, loopback):
    assert serving.is_loopback(address) is loopback


def test_the_first_run_page_asks_for_the_token(database, monkeypatch):
    token = "the-printed-token"
    monkeypatch.setenv(SETUP_TOKEN_ENV, hashlib.sha256(token.encode()).hexdigest())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert at.text_input[0].label == "Set-up token"
    fields = {"Set-up token": "a-guess", "Lead's user name": "mallory"}
    fields |= {"Password": PASSWORD, "Password again": PASSWORD}
    for box in at.text_input:
        box.input(fields[box.label])
    at.button[0].click().run()
    # Errors go through moodlab.ui.text.plain, which escapes Markdown (the hyphen too).
    assert plain("wrong set-up token") in " ".join(e.value for e in at.error)
    from moodlab.core.auth import count_users

    with database.session() as session:
        assert count_users(session=session) == 0
    at.text_input[0].input(token)
    at.button[0].click().run()
    assert not at.error
    with database.session() as session:
        assert count_users(session=session) == 1
