"""`moodlab serve`: migrate, then run the worker and the Streamlit app side by side.

Ctrl-C (or SIGTERM) stops both; if either dies, the other is stopped too, so a
half-running lab never looks healthy.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from types import FrameType

from moodlab.core import migrations as migrate
from moodlab.core.auth import SETUP_TOKEN_ENV
from moodlab.core.config import Settings
from moodlab.core.db import Database, database_from_settings
from moodlab.core.errors import MoodlabError
from moodlab.core.paths import PROJECT_ROOT
from moodlab.core.quiet import quiet_tensorflow

log = logging.getLogger("moodlab.serve")
APP = PROJECT_ROOT / "asgi.py"  # app.py with the login-cookie routes (asgi.py)
# `streamlit run` with a deadline for request heads (moodlab/ui/launch.py).
LAUNCHER = "moodlab.ui.launch"
# Seconds each child gets to stop cleanly before it is killed.
STOP_GRACE_SECONDS = 10


def streamlit_command(port: int, address: str, max_upload_mb: int = 200) -> list[str]:
    return [
        sys.executable,
        "-m",
        LAUNCHER,
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        # No usage statistics: moodlab makes no network calls the user did not ask for.
        "--browser.gatherUsageStats",
        "false",
        # Streamlit's welcome message looks up this machine's public IP on the
        # internet; moodlab prints its own URL instead.
        "--logger.hideWelcomeMessage",
        "true",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
        # Uploads as large as moodlab accepts them (Streamlit's own default is 200 MB).
        "--server.maxUploadSize",
        str(max_upload_mb),
    ]


def serve(*, port: int, address: str, worker: bool = True, queues: str | None = None) -> int:
    if not APP.exists():
        raise MoodlabError(f"{APP} is missing: run moodlab from its source checkout")
    database = database_from_settings()
    migrate.upgrade(database)
    _queue_default_music(database)
    # The address is also a name the app answers to (its Host check, moodlab/ui/hosts.py).
    app_env = dict(os.environ, MOODLAB_HOST=address)
    if not is_loopback(address) and _has_no_users(database):
        # Anyone who can reach the port could otherwise claim the first-run page.
        token = secrets.token_urlsafe(16)
        app_env[SETUP_TOKEN_ENV] = hashlib.sha256(token.encode()).hexdigest()
        print(
            f"moodlab: no accounts yet, and the app listens beyond this machine ({address}).\n"
            f"moodlab: the first-run page asks for this one-time set-up token: {token}",
            file=sys.stderr,
            flush=True,
        )
    database.dispose()
    children: dict[str, subprocess.Popen[bytes]] = {}
    if worker:
        # Quiet TensorFlow in the worker's environment (the worker sets it too, before
        # TensorFlow is first imported there).
        quiet_tensorflow()
        # One machine (SQLite) runs every queue; on PostgreSQL the web box serves `io`
        # and the GPU boxes `training` (docs/postgresql.md, "Queues").
        if queues is None and database.engine.dialect.name == "postgresql":
            queues = "io"
        serves = ["--queues", queues] if queues else []
        children["the worker"] = subprocess.Popen(
            [sys.executable, "-m", "moodlab", "worker", *serves], env=os.environ.copy()
        )
    upload_mb = max(200, -(-Settings.from_env().video_max_bytes // 1_000_000))
    children["the web app"] = subprocess.Popen(
        streamlit_command(port, address, upload_mb), cwd=PROJECT_ROOT, env=app_env
    )
    where = "this machine only" if is_loopback(address) else "other machines can connect"
    log.info("moodlab: serving on %s (%s; Ctrl-C stops)", url_of(address, port), where)

    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                log.error("moodlab: %s exited with %s; stopping", name, child.returncode)
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.5)
    _stop(list(children.values()))
    return exit_code


def url_of(address: str, port: int) -> str:
    """The app's URL at the address it listens on (localhost would miss 127.0.0.2)."""
    shown = f"[{address}]" if ":" in address else address
    return f"http://{shown}:{port}"


def is_loopback(address: str) -> bool:
    """Whether listening on ``address`` keeps the app to this machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _has_no_users(database: Database) -> bool:
    from moodlab.core.auth import count_users

    with database.session() as session:
        return count_users(session=session) == 0


def _queue_default_music(database: Database) -> None:
    """A fresh install gets its default music library from the worker, as a job.

    Generating takes a while (docs/benchmarks.md), so the app does not wait for it.
    """
    from moodlab.core.config import Settings
    from moodlab.music.actions import queue_default_library

    job_id = queue_default_library(database=database, settings=Settings.from_env())
    if job_id is not None:
        log.info("moodlab: generating the default music library (job %s)", job_id)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
