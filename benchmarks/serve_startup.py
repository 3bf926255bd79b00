"""How long `moodlab serve` takes to answer, on an existing venv and database.

    .venv/bin/python benchmarks/serve_startup.py [--runs 3]

Measures from launching `moodlab serve` (which migrates, starts the worker and
Streamlit) to the first 200 from Streamlit's health endpoint, and to the first
worker heartbeat. docs/benchmarks.md quotes its output.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def worker_alive(db_url: str) -> bool:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return bool(
                connection.execute(
                    text("SELECT count(*) FROM workers WHERE stopped_at IS NULL")
                ).scalar()
            )
    except Exception:
        return False
    finally:
        engine.dispose()


def one_run(db_url: str) -> tuple[float, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MOODLAB_DATABASE_URL": db_url}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "moodlab", "serve", "--port", str(port), "--address", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app_at = worker_at = None
    try:
        while app_at is None or worker_at is None:
            if time.perf_counter() - start > 120:
                raise RuntimeError("moodlab serve did not come up in 120 s")
            now = time.perf_counter() - start
            if app_at is None and healthy(url):
                app_at = now
            if worker_at is None and worker_alive(db_url):
                worker_at = now
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    return app_at, worker_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/bench.sqlite"
        runs = [one_run(db_url) for _ in range(args.runs)]
    apps, workers = zip(*runs, strict=True)
    print(f"moodlab serve, {args.runs} runs (first run also creates the database)")
    print(
        f"  app answers:    median {statistics.median(apps):.1f} s  (runs: "
        + ", ".join(f"{t:.1f}" for t in apps)
        + ")"
    )
    print(
        f"  worker alive:   median {statistics.median(workers):.1f} s  (runs: "
        + ", ".join(f"{t:.1f}" for t in workers)
        + ")"
    )


if __name__ == "__main__":
    main()
