"""A real `moodlab serve` on a free port and Debian's chromium driven by Playwright.

The browser is never downloaded: Playwright (from PyPI) drives /usr/bin/chromium,
which `make test` installs (.ci/debian-packages). A missing browser fails the suite
instead of skipping it.
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
from pathlib import Path

import pytest

from tests.conftest import ROOT

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


@pytest.fixture
def server(env, tmp_path):
    """`moodlab serve` (migrate, worker, app) on a free port; its base URL."""
    port = free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "moodlab", "serve", "--port", str(port), "--address", "127.0.0.1"],
        cwd=ROOT,
        # No default music library unless a test asks for it: generating it would
        # compete for the CPU with the browser the other tests time.
        env={"MOODLAB_MUSIC_TRACKS_PER_MOOD": "0", **os.environ},
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


@pytest.fixture
def browser_page():
    """A chromium page; the test fails if the app makes it call any host but this one."""
    from urllib.parse import urlsplit

    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    outside = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
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
        browser.close()
    assert not outside, f"the app made the browser call other hosts: {outside}"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, server: str, name: str, password: str) -> None:
    """Open the app and log in through the form, as a person would."""
    page.goto(server)
    page.get_by_label("User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
