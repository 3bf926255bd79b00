"""`moodlab video make` hands its job to an idle worker on this machine and waits for it;
`--here`, or no worker that takes it, runs it in the command. The report and the exit
code are the same either way (docs/cli.md, "Video"). A real worker process, real SQLite."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from moodlab.core.models import Job, Video, Worker
from moodlab.core.timeutil import utcnow
from moodlab.jobs.handoff import idle_worker
from tests.conftest import ROOT, run_cli
from tests.video_media import SHOTS, clip, register_tiny_model, tracks_for_every_mood

FAST = {"MOODLAB_WORKER_POLL_SECONDS": "0.2", "TF_CPP_MIN_LOG_LEVEL": "3"}
# What may differ between two runs of one video: where it went and how long it took.
OWN = {"output", "video_id", "seconds", "frames"}


@pytest.fixture
def lab(database, settings, monkeypatch):
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)  # the worker and the commands alike
    register_tiny_model(database, settings)
    tracks_for_every_mood(database, settings)


@pytest.fixture
def worker(lab, database, settings):
    """A `moodlab worker` process, once it has registered and is idle."""
    process = subprocess.Popen(
        [sys.executable, "-m", "moodlab", "worker"], cwd=ROOT, env={**os.environ}
    )
    deadline = time.monotonic() + 120
    while True:
        with database.session() as session:
            found = idle_worker(session=session, settings=settings)
            name = found.name if found else None
        if name and f":{process.pid}:" in name:
            break
        assert process.poll() is None, "the worker exited"
        assert time.monotonic() < deadline, "the worker never became idle"
        time.sleep(0.2)
    yield name
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


def job_worker(database, video_id: int) -> str:
    with database.session() as session:
        return session.scalar(
            select(Job.worker).join(Video, Video.job_id == Job.id).where(Video.id == video_id)
        )


def make(*args: str):
    return run_cli("video", "make", *args, "--sample-fps", "2", "--json", timeout=300)


def test_the_idle_worker_makes_it_and_the_report_is_the_same_as_here(tmp_path, database, worker):
    source = clip(tmp_path / "clip.mp4", [(SHOTS[0], 2), (SHOTS[2], 2)])
    handed = make(str(source), "--out", str(tmp_path / "handed.mp4"))
    assert handed.returncode == 0, handed.stderr
    assert f"handed to the idle worker {worker}" in handed.stderr
    here = make(str(source), "--out", str(tmp_path / "here.mp4"), "--here")
    assert here.returncode == 0, here.stderr
    assert "handed" not in here.stderr
    a, b = json.loads(handed.stdout), json.loads(here.stdout)
    assert list(a) == list(b)  # the same keys, in the same order
    assert {k: v for k, v in a.items() if k not in OWN} == {
        k: v for k, v in b.items() if k not in OWN
    }
    assert a["output"] == str(tmp_path / "handed.mp4") and (tmp_path / "handed.mp4").exists()
    assert job_worker(database, a["video_id"]) == worker
    assert job_worker(database, b["video_id"]).startswith("cli:")


def test_a_failing_job_fails_the_same_way_on_the_worker(tmp_path, database, worker):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    handed, here = make(str(junk)), make(str(junk), "--here")
    assert handed.returncode == here.returncode == 1
    assert handed.stdout == here.stdout == ""
    last = handed.stderr.strip().splitlines()[-1]
    assert last == here.stderr.strip().splitlines()[-1]
    assert last.startswith(f"moodlab: error: {junk.name}: ")
    with database.session() as session:
        workers = session.scalars(select(Job.worker).order_by(Job.id)).all()
    assert workers[-2:][0] == worker and workers[-1].startswith("cli:")


def test_a_worker_that_does_not_take_it_leaves_it_to_the_command(
    tmp_path, database, lab, monkeypatch
):
    # A worker row that beat a moment ago and then died: nobody will claim the job.
    # (Heartbeats 30 s apart: the row still looks alive when the command starts.)
    monkeypatch.setenv("MOODLAB_JOB_HEARTBEAT_SECONDS", "30")
    with database.session() as session:
        session.add(
            Worker(name="gone:1:abc", host=socket.gethostname(), pid=1, heartbeat_at=utcnow())
        )
    source = clip(tmp_path / "clip.mp4", [(SHOTS[1], 2)])
    done = make(str(source), "--out", str(tmp_path / "out.mp4"))
    assert done.returncode == 0, done.stderr
    assert "handed to the idle worker gone:1:abc" in done.stderr
    assert "no worker took it; running it here" in done.stderr
    assert job_worker(database, json.loads(done.stdout)["video_id"]).startswith("cli:")
