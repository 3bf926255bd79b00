"""A real `moodlab serve` on a free port and Debian's chromium driven by Playwright.

The browser is never downloaded: Playwright (from PyPI) drives /usr/bin/chromium,
which `make test` installs (.ci/debian-packages). A missing browser fails the suite
instead of skipping it.

One server per test process and settings: the modules that ask for the same settings
(``SERVER_ENV``, ``SERVE_ARGS``; most ask for none) share a server and its workspace,
started when the first of them runs and stopped when the process ends (a start is
about 9 s of a core). Before each test the workspace's database is emptied (every row
of every table: no users, so the next visitor gets the first-run page) and its data,
music and cache folders removed, so each test starts from a fresh install. One
chromium per test module, a new browser context (no cookies, no storage) per test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete

from moodlab.core.db import Database
from moodlab.core.models import Base, Worker
from moodlab.core.sessions import COOKIE_NAME
from tests.conftest import (
    BACKEND,
    ROOT,
    migrate_template,
    postgres_database,
    set_environment,
    workspace_env,
)

ARTIFACTS = ROOT / "test-artifacts"
# Flags for a root, offline, headless chromium: no sandbox (root), and no
# background calls to Google's services, which this machine's network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("MOODLAB_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "Debian's chromium is not installed, so the browser tests cannot run:"
            " `apt-get install chromium` (`make test` does this)",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moodlab serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"moodlab serve did not answer on {url} within {timeout} s")


def module_settings(module) -> tuple[dict[str, str], list[str]]:
    """A test module's own settings: ``SERVER_ENV`` (MOODLAB_* values that the server and
    the tests both read, such as a short crawl delay) and ``SERVE_ARGS`` (added to the
    `moodlab serve` command, such as the queues its worker serves)."""
    return dict(getattr(module, "SERVER_ENV", {})), list(getattr(module, "SERVE_ARGS", []))


class Servers:
    """The test process's workspaces and `moodlab serve` processes, one per settings."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, stack: ExitStack) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.stack = stack
        self.envs: dict[tuple, dict[str, str]] = {}
        self.urls: dict[tuple, str] = {}

    @staticmethod
    def key(server_env: dict[str, str], serve_args: list[str]) -> tuple:
        return tuple(sorted(server_env.items())), tuple(serve_args)

    def env(self, server_env: dict[str, str], serve_args: list[str]) -> dict[str, str]:
        """The workspace for these settings (made, and its database migrated, once)."""
        key = self.key(server_env, serve_args)
        if key not in self.envs:
            folder = self.tmp_path_factory.mktemp("e2e")
            if BACKEND == "postgresql":
                url = self.stack.enter_context(postgres_database())
            else:
                (folder / "db").mkdir()
                url = f"sqlite:///{folder / 'db' / 'moodlab.sqlite'}"
            migrate_template(url)
            values = workspace_env(folder, url, video_inputs=self.tmp_path_factory.getbasetemp())
            self.envs[key] = values | server_env
        return self.envs[key]

    def url(self, server_env: dict[str, str], serve_args: list[str]) -> str:
        """The base URL of the server for these settings (started once, on their workspace)."""
        key = self.key(server_env, serve_args)
        if key not in self.urls:
            log_path = self.tmp_path_factory.mktemp("serve") / "serve.log"
            values = self.env(server_env, serve_args)
            self.urls[key] = self.stack.enter_context(serving(serve_args, values, log_path))
        return self.urls[key]


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> Iterator[Servers]:
    with ExitStack() as stack:  # servers stopped, then their databases dropped
        yield Servers(tmp_path_factory, stack)


@pytest.fixture(scope="module")
def module_env(request, servers) -> Iterator[dict[str, str]]:
    """The module's workspace: its settings, also in os.environ while the module runs."""
    values = servers.env(*module_settings(request.module))
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_environment(monkeypatch, values)
        yield values


@pytest.fixture
def env(module_env, monkeypatch) -> dict[str, str]:
    """The module's settings (a test's own changes to os.environ end with it)."""
    set_environment(monkeypatch, module_env)
    return module_env


@contextmanager
def serving(serve_args: list[str], values: dict[str, str], log_path: Path) -> Iterator[str]:
    """`moodlab serve` (migrate, worker, app) on a free port with the workspace's settings
    ``values`` and ``serve_args``; its base URL. Stopped (SIGINT) on the way out."""
    port = free_port()
    log = open(log_path, "w")  # noqa: SIM115  (closed below)
    command = [sys.executable, "-m", "moodlab", "serve", "--port", str(port)]
    command += ["--address", "127.0.0.1", *serve_args]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        # No default music library unless a module asks for it (SERVER_ENV): generating
        # it would compete for the CPU with the browser the other tests time.
        env={"MOODLAB_MUSIC_TRACKS_PER_MOOD": "0", **os.environ, **values},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def module_server(request, module_env, servers) -> str:
    """The server for the module's settings; its base URL."""
    return servers.url(*module_settings(request.module))


def reset_workspace(values: dict[str, str]) -> None:
    """A fresh install again: every row deleted (children first), every file removed;
    only the server's own worker stays registered (the lab's data, not its processes)."""
    database = Database(values["MOODLAB_DATABASE_URL"])
    try:
        with database.session() as session:
            for table in reversed(Base.metadata.sorted_tables):
                if table is not Worker.__table__:
                    session.execute(delete(table))
    finally:
        database.dispose()
    for key in ("MOODLAB_DATA_DIR", "MOODLAB_MUSIC_DIR", "MOODLAB_CACHE_DIR"):
        shutil.rmtree(values[key], ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_workspace(env) -> None:
    """Before any other fixture of the test adds to it: the workspace emptied."""
    reset_workspace(env)


@pytest.fixture
def server(module_server) -> str:
    """The module's server (on a workspace emptied for this test)."""
    return module_server


@pytest.fixture(scope="module")
def browser():
    """One chromium for the module. (Not for the session: Playwright's sync API holds
    an asyncio loop running in this thread while it lives, and later tests of the
    same process call asyncio.run.)"""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(browser):
    """A page in a new context; the test fails if the app makes it call any host but this one."""
    from urllib.parse import urlsplit

    outside = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if urlsplit(request.url).hostname not in (None, "127.0.0.1", "localhost")
            and urlsplit(request.url).scheme in ("http", "https")
            else None
        ),
    )
    yield page
    context.close()
    assert not outside, f"the app made the browser call other hosts: {outside}"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


IDLE = (
    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText"
    ".includes('Running')"
)


def wait_for_idle(page, timeout: float = 60_000) -> None:
    """Until the page's script run (and any rerun it asked for) has finished drawing."""
    page.wait_for_function(IDLE, timeout=timeout)


def upload(page, path: Path) -> None:
    """``path`` chosen in the page's file uploader, and waited for until it is uploaded:
    the file's chip shows its name at once, but a button clicked before the upload ends
    runs the page without the file (seen under load). Its remove button says it is done
    (it is "Cancel upload of ..." until then)."""
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name=f"Remove {path.name}").wait_for(timeout=60_000)
    wait_for_idle(page)


START_ANNOTATING = "I have read the guidelines: start"


def pass_the_guidelines(page) -> None:
    """On Annotate, someone who has not read the current guidelines meets them first.

    The start button's click is made again if the widget does not come: a click that
    lands while a rerun is still being drawn is sometimes dropped under heavy load.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    start = page.get_by_role("button", name=START_ANNOTATING)
    widget = page.locator(".ml-annotator")
    start.or_(widget).first.wait_for(timeout=60_000)
    for _ in range(3):
        if not start.count():
            break
        start.click()
        try:
            widget.wait_for(timeout=20_000)
            break
        except PlaywrightTimeoutError:
            continue
    widget.wait_for()


def session_cookie(page) -> dict | None:
    """The browser's login cookie (HttpOnly: only the browser context sees it), if any."""
    return next((c for c in page.context.cookies() if c["name"] == COOKIE_NAME), None)


def log_in(page, server: str, name: str, password: str) -> None:
    """Open the app and log in through the form, as a person would; returns once the
    browser holds the login cookie. The page gets it from the cookie route a moment after
    the login (moodlab/ui/session.py, send_cookie_requests), and until then the file
    routes refuse the pictures and players of a page opened at once (a test's click
    under load, not a person's)."""
    page.goto(server)
    # A last login's cookie, whose logout may not have dropped it yet, is not this one.
    before = (session_cookie(page) or {}).get("value")
    page.get_by_label("User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    deadline = time.monotonic() + 60
    while (cookie := session_cookie(page)) is None or cookie["value"] == before:
        assert time.monotonic() < deadline, f"{name}: no login cookie 60 s after logging in"
        page.wait_for_timeout(100)
