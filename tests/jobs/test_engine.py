"""The job engine: queues, time limits, retries, the database's clock, pick-up.

Each test runs on SQLite (the embedded runner) and, in the PostgreSQL pass, on a real
server through Procrastinate (moodlab.jobs.engine); the pick-up test is PostgreSQL's
own (LISTEN/NOTIFY).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from moodlab.core.config import Settings
from moodlab.core.dbclock import database_time
from moodlab.core.errors import ConfigError
from moodlab.core.models import Job, JobStatus, Role, Worker
from moodlab.jobs import queue as jobs
from moodlab.jobs.check import CheckParams
from moodlab.jobs.context import JobParams
from moodlab.jobs.kind import JobKind
from moodlab.jobs.queues import parse_queues, queue_of, time_limit_of
from moodlab.jobs.worker import JobWorker
from tests.conftest import ROOT, log_of, run_cli
from tests.jobs.test_jobs import TEST_KINDS, enqueue, fast, job, wait_for


@dataclass
class GpuParams(JobParams):
    """A job of the training queue that only says where it ran."""

    KIND = "test_gpu"
    TITLE = "GPU test job"
    ROLE = Role.LEAD
    QUEUE = "training"


@dataclass
class StuckParams(JobParams):
    """A handler stuck where no cancel reaches it (a C call, say)."""

    KIND = "test_stuck"
    TITLE = "stuck test job"
    ROLE = Role.LEAD
    seconds: float = 30.0


def _stuck(ctx, params: StuckParams):
    time.sleep(params.seconds)  # never checks the cancel flag
    return {}


@dataclass
class DiskFullParams(JobParams):
    """Fails with a full disk until its marker file says the disk was freed."""

    KIND = "test_disk"
    TITLE = "disk test job"
    ROLE = Role.LEAD
    TRIES = 3
    RETRY_DELAY_S = 0.2
    marker: str = ""
    full_for: int = 1  # tries that find the disk full


def _disk(ctx, params: DiskFullParams):
    marker = Path(params.marker)
    tried = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(tried + 1))
    if tried < params.full_for:
        raise OSError(errno.ENOSPC, "No space left on device")
    return {"tries": tried + 1}


KINDS = {
    **TEST_KINDS,
    "test_gpu": JobKind("test_gpu", GpuParams, lambda ctx, params: {}),
    "test_stuck": JobKind("test_stuck", StuckParams, _stuck),
    "test_disk": JobKind("test_disk", DiskFullParams, _disk),
}


def worker_of(settings: Settings, database, **kwargs) -> JobWorker:
    return JobWorker(fast(settings), database, kinds=KINDS, **kwargs)


def running(worker: JobWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


def stopped(worker: JobWorker, thread: threading.Thread) -> None:
    worker.stop_event.set()
    thread.join(timeout=30)
    assert not thread.is_alive()


def finished(database, job_id: int) -> bool:
    return JobStatus(job(database, job_id).status).finished


# --- queues -------------------------------------------------------------------------------------


def test_each_kind_has_its_queue_and_a_setting_moves_one(settings):
    from moodlab.training.runs import FinalParams, FoldParams, TrainParams
    from moodlab.video.request import VideoParams

    assert {queue_of(p, settings) for p in (TrainParams, FoldParams, FinalParams)} == {"training"}
    assert queue_of(VideoParams, settings) == "io" and queue_of(CheckParams, settings) == "io"
    moved = replace(settings, job_queues="video=training, worker_check=gpu-2")
    assert queue_of(VideoParams, moved) == "training" and queue_of(CheckParams, moved) == "gpu-2"
    with pytest.raises(ConfigError, match="MOODLAB_JOB_QUEUES: 'video' is not `kind=value`"):
        queue_of(VideoParams, replace(settings, job_queues="video"))
    with pytest.raises(ConfigError, match="--queues: 'GPU!' is not a queue name"):
        parse_queues("training,GPU!")


def test_two_workers_on_different_queues_take_only_their_kinds(database, settings, lead):
    io_jobs = [enqueue(database, lead, steps=1, pause_seconds=0.0) for _ in range(3)]
    gpu_jobs = [enqueue(database, lead, GpuParams()) for _ in range(3)]
    gpu = worker_of(settings, database, name="gpu-box", queues=["training"])
    web = worker_of(settings, database, name="web-box", queues=["io"])
    threads = [running(gpu), running(web)]
    try:
        wait_for(lambda: all(finished(database, i) for i in io_jobs + gpu_jobs), timeout=60)
    finally:
        stopped(gpu, threads[0])
        stopped(web, threads[1])
    assert {job(database, i).worker for i in io_jobs} == {"web-box"}
    assert {job(database, i).worker for i in gpu_jobs} == {"gpu-box"}
    assert {job(database, i).queue for i in gpu_jobs} == {"training"}


def test_a_job_on_a_queue_no_live_worker_serves_says_so(database, settings, lead):
    gpu_job = enqueue(database, lead, GpuParams())
    web = worker_of(settings, database, name="web-box", queues=["io"])
    thread = running(web)
    try:
        wait_for(lambda: bool(_served(database)), timeout=30)
        served = _served(database)
        with database.session() as session:
            note = jobs.unserved_note(session.get(Job, gpu_job), served)
    finally:
        stopped(web, thread)
    assert served == {"io": ["web-box"]}
    assert note is not None and "No live worker serves the training queue" in note
    assert job(database, gpu_job).status == JobStatus.QUEUED  # nobody took it


def _served(database) -> dict[str, list[str]]:
    with database.session() as session:
        return jobs.served_queues(session=session, within=timedelta(seconds=5))


def test_detach_queues_and_jobs_show_names_queue_and_worker(database, settings, env, lead):
    queued = run_cli("dataset", "export", "1", "/tmp/never.zip", "--detach", "--json")
    # A snapshot that does not exist is refused before anything is queued.
    assert queued.returncode == 1 and "snapshot" in queued.stderr
    from moodlab.music.library import GenerateParams  # noqa: F401 (the music kind is real)

    out = run_cli("music", "generate", "--detach", "--json")
    assert out.returncode == 0, out.stderr
    import json

    report = json.loads(out.stdout)
    assert report["queue"] == "io" and report["status"] == "queued"
    assert job(database, report["job_id"]).status == JobStatus.QUEUED  # not run here
    with database.session() as session:  # as a worker would take it
        assert jobs.claim(session=session, job_id=report["job_id"], worker="web-box")
    shown = json.loads(run_cli("jobs", "show", str(report["job_id"]), "--json").stdout)
    assert shown["queue"] == "io" and shown["worker"] == "web-box"
    assert shown["attempts"] == 1 and shown["max_attempts"] == 2


# --- time limits --------------------------------------------------------------------------------


def test_a_job_past_its_time_limit_fails_naming_it_and_frees_its_worker(database, settings, lead):
    limited = replace(settings, job_time_limits="test_stuck=1")
    assert time_limit_of(StuckParams, limited) == (1.0, "MOODLAB_JOB_TIME_LIMITS test_stuck=1")
    stuck = enqueue(database, lead, StuckParams(seconds=60))
    after = enqueue(database, lead, steps=1, pause_seconds=0.0)
    worker = worker_of(limited, database, name="only")
    thread = running(worker)
    started = time.monotonic()
    try:
        wait_for(lambda: finished(database, after), timeout=40)
    finally:
        stopped(worker, thread)
    took = time.monotonic() - started
    failed = job(database, stuck)
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith(
        "stopped: past its time limit of 1 s (MOODLAB_JOB_TIME_LIMITS test_stuck=1)"
    )
    assert "left behind" in failed.error  # its handler never stopped, the worker went on
    assert job(database, after).status == JobStatus.SUCCEEDED and took < 30


def test_a_child_that_reads_more_than_a_pipe_holds_gets_all_its_input():
    # ffmpeg encoding a track reads megabytes from stdin while the parent polls for a
    # cancel: the input must keep flowing across the polls, not stop at the first.
    from moodlab.core import processes

    data = bytes(range(256)) * 8192  # 2 MiB, many times a pipe's buffer
    slow_reader = "import sys, time; time.sleep(0.5); print(len(sys.stdin.buffer.read()))"
    done = processes.run(
        [sys.executable, "-c", slow_reader], input=data, capture_output=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == str(len(data)).encode()


def test_a_cancelled_jobs_ffmpeg_is_killed_at_once(database, settings, lead, tmp_path):
    from moodlab.core import processes

    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with processes.watched_by(cancel), pytest.raises(processes.ChildStopped, match="cancelled"):
        processes.run([sys.executable, "-c", "import time; time.sleep(60)"], capture_output=True)
    assert time.monotonic() - started < 5
    with (
        processes.watched_by(threading.Event(), timeout_s=0.5),
        pytest.raises(processes.ChildStopped, match="past its limit of 0.5 s"),
    ):
        processes.run([sys.executable, "-c", "import time; time.sleep(60)"])


# --- retries ------------------------------------------------------------------------------------


def test_a_passing_error_is_retried_with_backoff_and_the_card_says_which_try(
    database, settings, lead, tmp_path
):
    marker = tmp_path / "tries"
    job_id = enqueue(database, lead, DiskFullParams(marker=str(marker), full_for=1))
    worker = worker_of(settings, database, name="w")
    thread = running(worker)
    try:
        wait_for(lambda: finished(database, job_id), timeout=40)
    finally:
        stopped(worker, thread)
    done = job(database, job_id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and done.max_attempts == 3 and marker.read_text() == "2"
    log = log_of(database, job_id)
    assert "[retry] try 1 of 3 failed (disk): [Errno 28] No space left on device" in log
    assert "try 2 in 0.2 s" in log


def test_a_passing_error_on_every_try_fails_after_the_last(database, settings, lead, tmp_path):
    marker = tmp_path / "tries"
    job_id = enqueue(database, lead, DiskFullParams(marker=str(marker), full_for=99))
    worker = worker_of(settings, database, name="w")
    thread = running(worker)
    try:
        wait_for(lambda: finished(database, job_id), timeout=40)
    finally:
        stopped(worker, thread)
    done = job(database, job_id)
    assert done.status == JobStatus.FAILED and done.attempts == 3 and marker.read_text() == "3"
    assert "No space left on device" in done.error


# --- the database's clock -----------------------------------------------------------------------

# A worker process whose clock is ``offset`` seconds off: moodlab's clock (and Python's
# time.time) read that much ahead or behind; the database server's is right.
SKEWED_WORKER = """
import sys, time
from datetime import timedelta
offset = float(sys.argv[1])
from moodlab.core import timeutil
true_utcnow = timeutil.utcnow
timeutil.utcnow = lambda: true_utcnow() + timedelta(seconds=offset)
true_time = time.time
time.time = lambda: true_time() + offset
from moodlab.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def _worker_process(offset: float, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MOODLAB_JOB_HEARTBEAT_SECONDS": "0.2",
        "MOODLAB_JOB_STALE_SECONDS": "2",
        "MOODLAB_WORKER_POLL_SECONDS": "0.1",
    }
    command = [sys.executable, "-c", SKEWED_WORKER, str(offset), "worker", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def _live(database) -> list[str]:
    with database.session() as session:
        return [w.name for w in jobs.live_workers(session=session, within=timedelta(seconds=5))]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("offset", [120.0, -120.0], ids=["ahead", "behind"])
def test_a_worker_with_a_clock_two_minutes_off_runs_no_job_twice_and_leaves_none_stuck(
    database, settings, env, lead, offset
):
    """A worker two minutes ahead (or behind) runs a long job while a worker whose clock
    is right looks for stale ones, then both run short jobs: none is taken over while it
    runs. Then the skewed one is killed during a job, which the other recovers once."""
    skewed = _worker_process(offset)
    right = None
    try:
        long_job = enqueue(database, lead, steps=60, pause_seconds=0.25)
        wait_for(lambda: job(database, long_job).progress > 0, timeout=60)
        right = _worker_process(0.0)  # idle at first: it looks for stale jobs meanwhile
        wait_for(lambda: len(_live(database)) == 2, timeout=60)
        time.sleep(3)  # many of its looks for stale jobs (every 0.2 s)
        assert job(database, long_job).status == JobStatus.RUNNING, "ended before the check"
        ids = [long_job] + [enqueue(database, lead, steps=4, pause_seconds=0.25) for _ in range(4)]
        wait_for(lambda: all(finished(database, i) for i in ids), timeout=90)
        rows = [job(database, i) for i in ids]
        assert {r.status for r in rows} == {JobStatus.SUCCEEDED}
        assert {r.attempts for r in rows} == {1}, "a live job was taken over"

        _stop(right)  # the skewed worker alone takes the next job
        # Killed at its first step, so 4 s of steps are enough for it to be under way.
        victim = enqueue(database, lead, steps=40, pause_seconds=0.1)
        wait_for(lambda: job(database, victim).progress > 0, timeout=60)
        skewed.send_signal(signal.SIGKILL)
        skewed.wait()
        right = _worker_process(0.0)
        wait_for(lambda: finished(database, victim), timeout=90)
    finally:
        for process in (skewed, right):
            if process is not None:
                _stop(process)
    recovered = job(database, victim)
    assert recovered.status == JobStatus.SUCCEEDED, recovered.message
    assert recovered.attempts == 2 and "[recovered] re-queued" in log_of(database, victim)


def _skew_moodlab_clock(monkeypatch, offset: float) -> None:
    """moodlab's clock (every module's ``utcnow``) and ``time.time`` ``offset`` s off in
    this process; the database server's clock stays right."""
    from moodlab.core import timeutil

    true_utcnow, true_time = timeutil.utcnow, time.time
    for name, module in list(sys.modules.items()):
        if (
            module is not None
            and name.startswith("moodlab")
            and getattr(module, "utcnow", None) is true_utcnow
        ):
            monkeypatch.setattr(module, "utcnow", lambda: true_utcnow() + timedelta(seconds=offset))
    monkeypatch.setattr(time, "time", lambda: true_time() + offset)


@pytest.mark.parametrize("offset", [120.0, -120.0], ids=["ahead", "behind"])
def test_heartbeats_are_written_with_the_database_clock(
    database, settings, lead, offset, monkeypatch
):
    """With this process's clock two minutes off, the worker's and the job's heartbeats
    and the job's start are the database server's time, and the job is not stale."""
    _skew_moodlab_clock(monkeypatch, offset)
    job_id = enqueue(database, lead)
    worker = worker_of(settings, database, name="w")
    worker._register()
    with database.session() as session:
        before = database_time(session)
        assert jobs.claim(session=session, job_id=job_id, worker="w")
    worker._beat(job_id)
    from moodlab.jobs.context import JobContext

    assert worker._job_beat(JobContext(database, job_id, settings=settings, actor=lead))
    with database.session() as session:
        stamps = [
            session.scalar(select(Worker.heartbeat_at).where(Worker.name == "w")),
            *session.execute(
                select(Job.heartbeat_at, Job.started_at).where(Job.id == job_id)
            ).one(),
        ]
        after = database_time(session)
        assert jobs.recover_stale(session=session, stale_after=timedelta(seconds=60)) == []
        assert [
            w.name for w in jobs.live_workers(session=session, within=timedelta(seconds=60))
        ] == ["w"]
    for stamp in stamps:
        assert before - timedelta(seconds=1) <= stamp <= after + timedelta(seconds=1), (
            stamps,
            before,
        )


# --- PostgreSQL: pick-up ----------------------------------------------------------------------


@pytest.mark.postgresql_only
def test_a_job_starts_within_half_a_second_of_being_queued(database, settings, lead):
    # Polling every 10 s: only a notification can wake the worker in time.
    slow_poll = replace(fast(settings), worker_poll_seconds=2.0)
    worker = JobWorker(slow_poll, database, kinds=KINDS, name="listener")
    thread = running(worker)
    try:
        wait_for(lambda: bool(_served(database)), timeout=30)
        time.sleep(1.0)  # listening by now; its first fetch found nothing
        delays = []
        for _ in range(3):
            job_id = enqueue(database, lead, steps=1, pause_seconds=0.0)
            with database.session() as session:
                queued_at = database_time(session)
            wait_for(lambda i=job_id: job(database, i).started_at is not None, timeout=20)
            delays.append((job(database, job_id).started_at - queued_at).total_seconds())
            wait_for(lambda i=job_id: finished(database, i), timeout=20)
    finally:
        stopped(worker, thread)
    assert max(delays) < 0.5, delays


@pytest.mark.postgresql_only
def test_migrate_creates_the_engine_schema(database):
    from sqlalchemy import inspect

    tables = set(inspect(database.engine).get_table_names())
    assert {"procrastinate_jobs", "procrastinate_workers", "procrastinate_events"} <= tables


def test_settings_refuse_a_bad_time_limit(settings):
    with pytest.raises(ConfigError, match="MOODLAB_JOB_TIME_LIMITS: video='soon'"):
        time_limit_of(CheckParams, replace(settings, job_time_limits="video=soon"))
    assert Settings.from_env({"MOODLAB_JOB_RETENTION_DAYS": "7"}).job_retention_days == 7


# --- logs and retention -------------------------------------------------------------------------


def test_log_lines_are_rows_read_in_pages(database, lead):
    from moodlab.jobs.context import JobContext

    job_id = enqueue(database, lead)
    ctx = JobContext(database, job_id, settings=Settings.from_env(), actor=lead)
    for i in range(250):
        ctx.log(f"line {i}")
    with database.session() as session:
        newest = jobs.log_lines(session=session, job_id=job_id)
        older = jobs.log_lines(session=session, job_id=job_id, before_id=newest[0].id)
        assert session.scalar(select(Job.log_tail).where(Job.id == job_id)) == ""
    assert [line.line.split(" ", 1)[1] for line in newest] == [f"line {i}" for i in range(50, 250)]
    assert [line.line.split(" ", 1)[1] for line in older] == [f"line {i}" for i in range(50)]


def test_old_finished_jobs_and_dead_workers_are_pruned_but_not_a_models_run(
    database, settings, lead, annotator
):
    from moodlab.core.models import TrainedModel
    from moodlab.jobs.context import JobContext
    from moodlab.jobs.retention import prune

    ids = [enqueue(database, lead, steps=1, pause_seconds=0.0) for _ in range(4)]
    old, kept_by_model, recent, running_ = ids
    JobContext(database, old, settings=settings, actor=lead).log("an old line")
    with database.session() as session:
        now = database_time(session)
        long_ago = now - timedelta(days=40)
        for job_id in (old, kept_by_model, recent):
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    status=JobStatus.SUCCEEDED, finished_at=long_ago if job_id != recent else now
                )
            )
        session.execute(update(Job).where(Job.id == running_).values(status=JobStatus.RUNNING))
        session.add(
            TrainedModel(
                arch="plain", path="m.keras", job_id=kept_by_model, cv_scores={}, report={}
            )
        )
        session.add_all(
            [
                Worker(name="dead", host="h", pid=1, heartbeat_at=long_ago),
                Worker(name="alive", host="h", pid=2, heartbeat_at=now),
            ]
        )
    with database.session() as session, pytest.raises(Exception, match="may not prune old jobs"):
        prune(session=session, settings=settings, actor=annotator)
    with database.session() as session:
        pruned = prune(session=session, settings=settings, actor=lead)
    assert (pruned.jobs, pruned.workers) == (1, 1)
    with database.session() as session:
        left = set(session.scalars(select(Job.id)))
        assert jobs.log_lines(session=session, job_id=old) == []
        assert set(session.scalars(select(Worker.name))) == {"alive"}
    assert left == {kept_by_model, recent, running_}
