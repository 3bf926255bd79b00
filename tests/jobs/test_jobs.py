"""Jobs and the worker: claiming, progress, cancel, failures, recovery after SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError, PermissionDenied
from moodlab.core.models import Job, JobStatus, Role
from moodlab.core.timeutil import utcnow
from moodlab.job_kinds import KINDS
from moodlab.jobs import queue as jobs
from moodlab.jobs.check import CheckParams
from moodlab.jobs.context import JobParams
from moodlab.jobs.kind import JobKind
from moodlab.jobs.worker import JobWorker
from tests.conftest import ROOT, log_of


@dataclass
class FailParams(JobParams):
    KIND = "test_fail"
    TITLE = "failing test job"
    ROLE = Role.LEAD
    bug: bool = False


def _fail(ctx, params: FailParams):
    ctx.log("about to fail")
    if params.bug:
        raise ZeroDivisionError("division by zero")
    raise MoodlabError("the input photo.jpg is not an image")


@dataclass
class LoopParams(JobParams):
    KIND = "test_loop"
    TITLE = "looping test job"
    ROLE = Role.LEAD
    steps: int = 1000


def _loop(ctx, params: LoopParams):
    for i in range(params.steps):
        ctx.progress(i / 1000, f"step {i}")
        time.sleep(0.01)
    return {"steps": params.steps}


@dataclass
class TeleportParams(JobParams):
    KIND = "teleport"
    TITLE = "teleport"
    ROLE = Role.LEAD


# The lab's kinds and two only these tests know: the table these tests' workers are handed.
TEST_KINDS = {
    **KINDS,
    "test_fail": JobKind("test_fail", FailParams, _fail),
    "test_loop": JobKind("test_loop", LoopParams, _loop),
}


def worker_of(settings: Settings, database: Database, **kwargs) -> JobWorker:
    """A fast worker that knows the test kinds."""
    return JobWorker(fast(settings), database, kinds=TEST_KINDS, **kwargs)


def fast(settings: Settings) -> Settings:
    from dataclasses import replace

    return replace(
        settings, job_heartbeat_seconds=0.1, job_stale_seconds=1.0, worker_poll_seconds=0.05
    )


def enqueue(database, actor, params: JobParams | None = None, **check) -> int:
    """Queue ``params`` (a worker check with ``check``'s steps and pause by default)."""
    with database.session() as session:
        return jobs.enqueue(
            session=session,
            actor=actor,
            settings=Settings.from_env(),
            params=params or CheckParams(**check),
        ).id


def job(database, job_id) -> Job:
    with database.session() as session:
        return session.get(Job, job_id)


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_job_runs_to_success_with_progress_and_result(database, settings, lead):
    job_id = enqueue(database, lead, steps=3, pause_seconds=0.0)
    assert worker_of(settings, database).run(once=True) == 1
    done = job(database, job_id)
    assert done.status == JobStatus.SUCCEEDED
    assert done.progress == 1.0
    assert done.result["python"]
    assert "writing a probe file" in log_of(database, done.id)
    assert done.attempts == 1 and done.finished_at >= done.started_at


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, "the input photo.jpg is not an image"),
        ({"bug": True}, "ZeroDivisionError: division by zero"),
    ],
)
def test_a_failing_job_records_the_reason_and_the_worker_goes_on(
    database, settings, lead, params, error
):
    failing = enqueue(database, lead, FailParams(**params))
    after = enqueue(database, lead, steps=1, pause_seconds=0.0)
    assert worker_of(settings, database).run(once=True) == 2
    assert job(database, failing).status == JobStatus.FAILED
    assert job(database, failing).error == error
    assert job(database, after).status == JobStatus.SUCCEEDED


def test_cancelling_a_queued_job_is_immediate(database, lead):
    job_id = enqueue(database, lead)
    with database.session() as session:
        jobs.request_cancel(session=session, actor=lead, job_id=job_id)
    assert job(database, job_id).status == JobStatus.CANCELLED
    with pytest.raises(MoodlabError, match="already cancelled"), database.session() as session:
        jobs.request_cancel(session=session, actor=lead, job_id=job_id)


def test_a_running_job_honours_cancel(database, settings, lead):
    job_id = enqueue(database, lead, LoopParams())
    worker = worker_of(settings, database)
    thread = threading.Thread(target=worker.run, kwargs={"once": True})
    thread.start()
    wait_for(lambda: job(database, job_id).progress > 0.01)
    with database.session() as session:
        jobs.request_cancel(session=session, actor=lead, job_id=job_id)
    thread.join(timeout=10)
    assert job(database, job_id).status == JobStatus.CANCELLED


def test_a_worker_shutting_down_requeues_its_job(database, settings, lead):
    job_id = enqueue(database, lead, LoopParams())
    worker = worker_of(settings, database)
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_for(lambda: job(database, job_id).status == JobStatus.RUNNING)
    worker.stop_event.set()
    thread.join(timeout=10)
    stopped = job(database, job_id)
    assert stopped.status == JobStatus.QUEUED
    assert stopped.attempts == 0
    assert "shut down" in stopped.message


def test_annotators_cannot_start_lead_jobs(database, annotator):
    with pytest.raises(
        PermissionDenied, match="anna \\(annotator\\) may not start a worker check job"
    ):
        enqueue(database, annotator)


def test_a_job_of_a_kind_the_worker_does_not_know_fails_naming_it(database, settings, lead):
    job_id = enqueue(database, lead, TeleportParams())
    assert worker_of(settings, database).run(once=True) == 1
    assert job(database, job_id).status == JobStatus.FAILED
    assert job(database, job_id).error.startswith("unknown job kind 'teleport': expected one of")


def test_a_job_stale_twice_is_failed_with_a_reason(database, lead):
    job_id = enqueue(database, lead)
    long_ago = utcnow() - timedelta(minutes=10)
    for attempt in (1, 2):
        with database.session() as session:
            assert jobs.claim_next(session=session, worker=f"w{attempt}") == job_id
        with database.session() as session:  # its worker went silent ten minutes ago
            session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=long_ago))
        with database.session() as session:
            recovered = jobs.recover_stale(session=session, stale_after=timedelta(seconds=60))
        assert recovered == [job_id]
    failed = job(database, job_id)
    assert failed.status == JobStatus.FAILED
    assert "worker w2 stopped heartbeating" in failed.error
    assert "on try 2 of 2; not retried" in failed.error


def _claim_all(url: str, worker: str, out) -> None:
    database = Database(url)
    claimed = []
    while True:
        with database.session() as session:
            job_id = jobs.claim_next(session=session, worker=worker)
        if job_id is None:
            break
        claimed.append(job_id)
    out.put(claimed)


def test_concurrent_workers_never_claim_the_same_job(database, settings, lead):
    with database.session() as session:
        session.add_all(Job(kind="worker_check", params={}) for _ in range(300))
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    procs = [
        context.Process(target=_claim_all, args=(settings.database_url, f"w{i}", out))
        for i in range(4)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join()
    claimed = [job_id for result in results for job_id in result]
    assert len(claimed) == 300 and len(set(claimed)) == 300
    with database.session() as session:
        rows = session.execute(select(Job.worker, Job.attempts)).all()
    assert all(attempts == 1 for _, attempts in rows)
    assert sum(1 for result in results if result) >= 2, "the claim test never ran concurrently"


@pytest.mark.postgresql_only
def test_on_postgresql_a_worker_skips_a_job_another_worker_holds(database, lead):
    """SELECT ... FOR UPDATE SKIP LOCKED: the second worker takes the next job at once."""
    from sqlalchemy import text

    first, second = (enqueue(database, lead) for _ in range(2))
    with database.sessionmaker() as holder, database.sessionmaker() as other:
        # The first worker has selected (and so locked) the oldest job, not yet updated it.
        locked = holder.scalar(
            select(Job.id)
            .where(Job.status == JobStatus.QUEUED)
            .order_by(Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        assert locked == first
        # Waiting on the lock would be the bug: make it an error instead of a hang.
        other.execute(text("SET LOCAL lock_timeout = '2s'"))
        started = time.monotonic()
        assert jobs.claim_next(session=other, worker="w2") == second
        assert time.monotonic() - started < 1.5
        holder.rollback()
    assert job(database, first).status == JobStatus.QUEUED
    assert job(database, second).worker == "w2"


def _claim_in_thread(database, worker: str, claimed: list[int], start: threading.Barrier):
    start.wait()
    while True:
        with database.session() as session:
            job_id = jobs.claim_next(session=session, worker=worker)
        if job_id is None:
            return
        claimed.append(job_id)


def test_worker_threads_sharing_one_engine_never_claim_the_same_job(database, lead):
    with database.session() as session:
        session.add_all(Job(kind="worker_check", params={}) for _ in range(200))
    start = threading.Barrier(4)
    claims: list[list[int]] = [[] for _ in range(4)]
    threads = [
        threading.Thread(target=_claim_in_thread, args=(database, f"t{i}", claims[i], start))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    claimed = [job_id for mine in claims for job_id in mine]
    assert len(claimed) == 200 and len(set(claimed)) == 200
    with database.session() as session:
        workers = dict(session.execute(select(Job.id, Job.worker)).all())
    assert all(workers[job_id] == f"t{i}" for i, mine in enumerate(claims) for job_id in mine)


def test_two_worker_processes_run_each_job_once(database, settings, env, lead):
    ids = [enqueue(database, lead, steps=1, pause_seconds=0.0) for _ in range(20)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "moodlab", "worker", "--once"], cwd=ROOT, env={**os.environ}
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    with database.session() as session:
        rows = session.scalars(select(Job).where(Job.id.in_(ids))).all()
    assert {row.status for row in rows} == {JobStatus.SUCCEEDED}
    assert {row.attempts for row in rows} == {1}


def test_a_job_whose_worker_was_killed_is_recovered(database, settings, env, lead):
    job_id = enqueue(database, lead, steps=20, pause_seconds=0.1)
    fast_env = {
        **os.environ,
        "MOODLAB_JOB_HEARTBEAT_SECONDS": "0.2",
        "MOODLAB_JOB_STALE_SECONDS": "1",
    }
    victim = subprocess.Popen([sys.executable, "-m", "moodlab", "worker"], cwd=ROOT, env=fast_env)
    try:
        wait_for(lambda: job(database, job_id).progress > 0, timeout=60)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    orphan = job(database, job_id)
    assert orphan.status == JobStatus.RUNNING  # nobody has noticed yet

    rescuer = subprocess.Popen([sys.executable, "-m", "moodlab", "worker"], cwd=ROOT, env=fast_env)
    try:
        # The rescuer notices the silent job, re-queues it, claims it and runs it.
        wait_for(lambda: JobStatus(job(database, job_id).status).finished, timeout=60)
    finally:
        rescuer.send_signal(signal.SIGTERM)
        assert rescuer.wait(timeout=30) == 0
    recovered = job(database, job_id)
    assert recovered.status == JobStatus.SUCCEEDED, recovered.message
    assert recovered.attempts == 2
    assert "[recovered] re-queued" in log_of(database, recovered.id)


def test_the_heartbeat_thread_logs_a_failed_beat_and_keeps_beating(
    database, settings, lead, monkeypatch, caplog
):
    from sqlalchemy.exc import OperationalError

    worker = worker_of(settings, database)
    real, calls = worker._job_beat, []

    def flaky(ctx):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE jobs", {}, Exception("disk I/O error"))
        return real(ctx)

    monkeypatch.setattr(worker, "_job_beat", flaky)
    job_id = enqueue(database, lead, LoopParams(steps=60))
    with caplog.at_level("ERROR", logger="moodlab.worker"):
        assert worker.run(once=True) == 1
    assert "heartbeat failed; trying again next beat" in caplog.text
    assert len(calls) >= 3  # it went on beating after the failure
    assert job(database, job_id).status == JobStatus.SUCCEEDED


@pytest.mark.sqlite_only
def test_progress_retries_while_another_writer_holds_the_database_then_says_so(
    settings, database, lead, monkeypatch, caplog
):
    import logging
    import sqlite3

    from moodlab.core import db as core_db
    from moodlab.jobs.actions import start_check
    from moodlab.jobs.context import JobContext

    with database.session() as session:
        job_id = start_check(session=session, actor=lead, settings=settings).id
    # Each try waits 50 ms for the lock (not 30 s), then pauses 0.2 s, twice.
    monkeypatch.setattr(core_db, "SQLITE_BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(core_db, "LOCKED_RETRY_DELAYS", (0.2, 0.2))
    impatient = Database(settings.database_url)  # new connections take the pragma
    ctx = JobContext(impatient, job_id, settings=settings, actor=lead)
    other_writer = sqlite3.connect(
        impatient.engine.url.database, isolation_level=None, check_same_thread=False
    )
    caplog.set_level(logging.INFO, logger="moodlab.db")

    other_writer.execute("BEGIN IMMEDIATE")  # holds the write lock throughout
    started = time.monotonic()
    with pytest.raises(core_db.DatabaseBusy, match=f"job {job_id}'s progress was not saved"):
        ctx.progress(0.5, "half way", force=True)
    assert time.monotonic() - started >= 0.4
    assert caplog.text.count("database locked, retrying") == 2
    other_writer.execute("ROLLBACK")

    caplog.clear()
    other_writer.execute("BEGIN IMMEDIATE")  # held for about one pause, then let go
    releaser = threading.Timer(0.3, other_writer.execute, ("COMMIT",))
    releaser.start()
    ctx.progress(0.75, "three quarters", force=True)
    releaser.join()
    assert 1 <= caplog.text.count("database locked, retrying") <= 2
    assert job(database, job_id).message == "three quarters"
    other_writer.close()
    impatient.dispose()


def _write_forever(path: str, ready) -> None:
    from pathlib import Path

    from moodlab.core.storage import atomic_write

    with atomic_write(Path(path)) as handle:
        handle.write(b"half a file")
        handle.flush()
        ready.set()
        time.sleep(600)


def test_a_killed_jobs_temp_files_are_gone_after_the_next_worker_start(database, settings):
    target = settings.data_dir / "objects" / "ab" / "cd" / "image.jpg"
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    writer = context.Process(target=_write_forever, args=(str(target), ready))
    writer.start()
    assert ready.wait(60)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(10)
    [temp] = list(target.parent.iterdir())
    assert temp.name.startswith(".image.jpg.") and temp.name.endswith(".tmp")
    keep = target.parent / "kept.jpg"
    keep.write_bytes(b"a whole file")
    worker_of(settings, database).run(once=True)
    assert list(target.parent.iterdir()) == [keep]


def test_a_worker_runs_the_start_up_tasks_it_is_handed_before_any_job(database, settings, lead):
    job_id = enqueue(database, lead, steps=1, pause_seconds=0.0)
    seen = []

    def task(given_settings, given_database):
        seen.append((given_settings.data_dir, given_database, job(database, job_id).status))

    assert worker_of(settings, database, on_start=[task]).run(once=True) == 1
    assert seen == [(settings.data_dir, database, JobStatus.QUEUED)]


def test_a_users_ended_jobs_are_theirs_whole_and_newer_than_asked(database, lead, annotator):
    from moodlab.jobs.queue import ended_jobs_of

    start = utcnow()
    with database.session() as session:
        mine = [Job(kind="train", created_by_id=annotator.id) for _ in range(3)]
        theirs = Job(kind="train", created_by_id=lead.id)
        session.add_all([*mine, theirs])
        session.flush()
        part = Job(kind="train_fold", created_by_id=annotator.id, parent_id=mine[0].id)
        session.add(part)
        session.flush()
        jobs.finish(mine[2], JobStatus.FAILED, error="out of memory")
        jobs.finish(mine[0], JobStatus.SUCCEEDED)
        jobs.finish(theirs, JobStatus.SUCCEEDED)
        jobs.finish(part, JobStatus.SUCCEEDED)  # a run's part: its run tells
        ids = [j.id for j in mine]  # mine[1] is still queued
    with database.session() as session:
        ended = ended_jobs_of(session=session, actor=annotator, since=start)
        assert [j.id for j in ended] == [ids[2], ids[0]]  # in the order they ended
        last = ended[-1].finished_at
        assert ended_jobs_of(session=session, actor=annotator, since=last) == []
