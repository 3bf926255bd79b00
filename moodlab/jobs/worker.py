"""The worker process: claims queued jobs one at a time and runs them.

Start one with `moodlab worker` (`moodlab serve` starts one for you). Several
workers may share a database; each job runs on exactly one of them. The face that
starts a worker hands it the table of job kinds (moodlab.job_kinds.KINDS) and its
start-up tasks (the CLI's: removing image files no row names, repairing derived
ones), so the mechanism here knows no area's work (docs/architecture.md, "Layering").
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from moodlab.core import processes
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database, retry_locked
from moodlab.core.dbclock import database_time, db_now
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, JobStatus, Worker
from moodlab.core.storage import remove_stale_temp_files
from moodlab.jobs import queue
from moodlab.jobs.context import (
    JobCancelled,
    JobContext,
    JobFailed,
    JobParams,
    WorkerStopping,
)
from moodlab.jobs.engine import TASK_NAME, dispatch, procrastinate_conninfo
from moodlab.jobs.kind import JobKind, kind
from moodlab.jobs.queues import all_queues, time_limit_of
from moodlab.jobs.retention import prune
from moodlab.jobs.retry import passing_reason, retry_delay

log = logging.getLogger("moodlab.worker")

# A task a worker runs when it starts, before it claims a job: what a crash may have
# left behind (moodlab.images.derived.repair_derived, say).
StartTask = Callable[[Settings, Database], object]
# How often a running job's cancel flag is read (one small SELECT): a cancel asked on the
# Jobs page takes effect within about this, not at the next heartbeat (a write, every
# MOODLAB_JOB_HEARTBEAT_SECONDS); handlers' waits wake on the flag (JobContext.wait).
CANCEL_POLL_SECONDS = 0.5
# How long a handler asked to stop at its time limit has before its job is failed and
# the worker goes on without it (its thread is left behind, its children killed).
STOP_GRACE_SECONDS = 5.0
# How often a worker prunes old jobs and dead workers (MOODLAB_JOB_RETENTION_DAYS).
PRUNE_EVERY_SECONDS = 3600.0


class JobWorker:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        name: str | None = None,
        *,
        kinds: Mapping[str, JobKind],
        on_start: Sequence[StartTask] = (),
        queues: Sequence[str] | None = None,
        concurrency: int = 1,
    ):
        self.settings = settings
        self.database = database
        self.kinds = kinds
        self.on_start = tuple(on_start)
        # The queues it serves: every queue moodlab's kinds use unless told.
        self.queues = tuple(queues) if queues else all_queues(settings)
        if concurrency < 1:
            raise MoodlabError(f"--concurrency {concurrency}: a worker runs at least 1 job")
        self.concurrency = concurrency
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop_event = threading.Event()
        self._last_recovery = -math.inf
        self._last_prune = -math.inf

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self, *, once: bool = False) -> int:
        """Run the start-up tasks, then work until stopped (or, with ``once``, until the
        queue is empty); the number of jobs run. On PostgreSQL Procrastinate hands this
        worker its jobs; on SQLite the embedded runner polls the jobs table."""
        self._register()
        for task in self.on_start:
            task(self.settings, self.database)
        self.clean_stale_temp_files()
        try:
            if self.database.engine.dialect.name == "postgresql":
                return self._run_on_engine(once=once)
            return self._run_embedded(once=once)
        finally:
            self._unregister()

    def _run_embedded(self, *, once: bool) -> int:
        """The embedded runner: ``concurrency`` loops that each claim and run jobs."""
        counts = [0] * self.concurrency

        def loop(slot: int) -> None:
            while not self.stop_event.is_set():
                if self.run_one():
                    counts[slot] += 1
                elif once:
                    break
                else:
                    self.stop_event.wait(self.settings.worker_poll_seconds)

        others = [
            threading.Thread(target=loop, args=(slot,), name=f"slot-{slot}", daemon=True)
            for slot in range(1, self.concurrency)
        ]
        for thread in others:
            thread.start()
        loop(0)
        for thread in others:
            thread.join()
        return sum(counts)

    def _run_on_engine(self, *, once: bool) -> int:
        """PostgreSQL: Procrastinate's worker for this worker's queues, ``concurrency`` jobs
        at once, woken by LISTEN/NOTIFY; each Procrastinate job runs its moodlab job here
        (``run_queued``). Beside it, every heartbeat, this worker beats and recovers jobs
        whose worker went silent (on the database's clock)."""
        import asyncio
        import contextlib

        from procrastinate import App, PsycopgConnector

        app = App(
            connector=PsycopgConnector(
                conninfo=procrastinate_conninfo(self.settings.database_url),
                min_size=1,
                max_size=self.concurrency + 2,
            )
        )
        ran = [0]

        @app.task(name=TASK_NAME)
        def run_job(job_id: int) -> None:
            if self.run_queued(job_id):
                ran[0] += 1

        async def serve() -> None:
            async with app.open_async():
                working = asyncio.create_task(
                    app.run_worker_async(
                        queues=list(self.queues),
                        concurrency=self.concurrency,
                        name=self.name,
                        wait=not once,
                        install_signal_handlers=False,
                        # moodlab's jobs table keeps the record; the engine's rows go.
                        delete_jobs="always",
                        listen_notify=True,
                        fetch_job_polling_interval=self.settings.worker_poll_seconds * 5,
                    )
                )
                while not working.done() and not self.stop_event.is_set():
                    await asyncio.to_thread(self._housekeeping)
                    await asyncio.wait(
                        {working}, timeout=min(1.0, self.settings.job_heartbeat_seconds)
                    )
                if not working.done():
                    working.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await working

        asyncio.run(serve())
        return ran[0]

    def _housekeeping(self) -> None:
        self._recover_stale_jobs()
        self._prune_old()
        self._beat(None)

    def _prune_old(self) -> None:
        """Once an hour: finished jobs and dead workers past the retention period."""
        now = time.monotonic()
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        with self.database.session() as session:
            pruned = prune(session=session, settings=self.settings, actor=Actor.command_line())
        if pruned.jobs or pruned.workers:
            log.info(
                "worker %s: pruned %d finished jobs and %d dead workers",
                self.name,
                pruned.jobs,
                pruned.workers,
            )

    def run_queued(self, job_id: int) -> bool:
        """Run job ``job_id`` here if it is still queued (the engine's task); False when it
        is not (cancelled, run by a command, or taken by another worker)."""
        with self.database.session() as session:
            if not queue.claim(session=session, job_id=job_id, worker=self.name):
                return False
        self._run_claimed(job_id)
        return True

    def install_signal_handlers(self) -> None:
        """SIGTERM and the first Ctrl-C stop after re-queueing the running job."""

        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("worker %s: stopping on signal %s", self.name, signum)
            self.stop_event.set()
            signal.signal(signal.SIGINT, signal.default_int_handler)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def _register(self) -> None:
        host, pid = socket.gethostname(), os.getpid()
        with self.database.session() as session:
            session.merge(
                Worker(
                    name=self.name,
                    host=host,
                    pid=pid,
                    heartbeat_at=database_time(session),
                    queues=",".join(self.queues),
                    concurrency=self.concurrency,
                )
            )

    def clean_stale_temp_files(self) -> list[Path]:
        """Remove temp files that killed jobs left under the data and music dirs.

        moodlab's atomic writes name their temp files ``.<name>.h<host>p<pid>.<random>.tmp``,
        perhaps followed by the file's suffix (moodlab.core.storage); one of this host whose
        writer process is gone is removed, and any other once older than the stale-job
        window (another host's on shared storage, or a writer that names no pid).
        """
        removed: list[Path] = []
        for root in (self.settings.data_dir, self.settings.music_dir):
            removed += remove_stale_temp_files(
                Path(root), older_than_s=self.settings.job_stale_seconds
            )
        for path in removed:
            log.info("worker %s: removed a stale temp file %s", self.name, path)
        return removed

    def _unregister(self) -> None:
        with self.database.session() as session:
            session.execute(
                update(Worker)
                .where(Worker.name == self.name)
                .values(stopped_at=db_now(), current_job_id=None)
            )

    def _beat(self, job_id: int | None) -> None:
        def beat() -> None:
            with self.database.session() as session:
                session.execute(
                    update(Worker)
                    .where(Worker.name == self.name)
                    .values(heartbeat_at=db_now(), current_job_id=job_id)
                )

        retry_locked(beat, what=f"worker {self.name}'s heartbeat")

    # -- one job -----------------------------------------------------------------------------

    def run_one(self) -> bool:
        """Recover stale jobs, then claim and run one queued job; False when none waits."""
        self._recover_stale_jobs()
        self._prune_old()
        self._beat(None)
        with self.database.session() as session:
            job_id = queue.claim_next(session=session, worker=self.name, queues=self.queues)
        if job_id is None:
            return False
        self._run_claimed(job_id)
        return True

    def _recover_stale_jobs(self) -> None:
        # time.monotonic: how often this worker looks, not a time it compares with others.
        now = time.monotonic()
        if now - self._last_recovery < self.settings.job_heartbeat_seconds:
            return
        self._last_recovery = now
        stale_after = timedelta(seconds=self.settings.job_stale_seconds)
        with self.database.session() as session:
            recovered = queue.recover_stale(session=session, stale_after=stale_after)
        for job_id in recovered:
            log.warning("job %s: its worker stopped heartbeating; recovered", job_id)

    def _run_claimed(self, job_id: int) -> None:
        with self.database.session() as session:
            job = session.get(Job, job_id)
            if job is None:  # deleted between the claim and now
                log.warning("job %s: gone before it started", job_id)
                return
            kind_name, params, parent_id = job.kind, dict(job.params or {}), job.parent_id
            creator = job.created_by
            actor = Actor.of(creator) if creator else Actor.command_line()
        ctx = JobContext(
            self.database,
            job_id,
            settings=self.settings,
            actor=actor,
            stop_event=self.stop_event,
            parent_id=parent_id,
            run_part=self._run_a_part,
        )
        try:
            params_type = kind(kind_name, self.kinds).params
            handler = kind(kind_name, self.kinds).run
        except MoodlabError as exc:
            self._settle(job_id, JobStatus.FAILED, error=str(exc))
            return
        limit, source = time_limit_of(params_type, self.settings)
        self._beat(job_id)  # busy from now on: a command does not hand this worker its job
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                with processes.watched_by(  # its children die on cancel, or at a deadline
                    ctx.cancel_event, timeout_s=self.settings.child_timeout_seconds
                ):
                    outcome["result"] = handler(ctx, params_type.from_json(params))
            except BaseException as exc:  # judged below, in the worker's thread
                outcome["error"] = exc
                outcome["trace"] = traceback.format_exc(limit=8)
            finally:
                done.set()

        # The handler runs in a thread of its own, and this thread beats and keeps the
        # time: a handler stuck in a C call or a child process stops beating at its
        # limit, is failed, and the worker goes on (docs/postgresql.md, "Time limits").
        log.info("job %s (%s): started on %s", job_id, kind_name, self.name)
        threading.Thread(target=work, name=f"job-{job_id}", daemon=True).start()
        try:
            past_limit = self._watch(ctx, done, limit)
        except KeyboardInterrupt:
            ctx.cancel_event.set()
            done.wait(STOP_GRACE_SECONDS)
            raise
        if past_limit:
            left = "" if done.is_set() else "; it did not stop and was left behind"
            self._settle(
                job_id,
                JobStatus.FAILED,
                error=f"stopped: past its time limit of {limit:g} s ({source}){left}",
            )
        else:
            self._conclude(job_id, outcome, params_type, ctx.cancel_event.is_set())
        log.info("job %s: finished", job_id)

    def _conclude(
        self, job_id: int, outcome: dict[str, Any], params_type: type[JobParams], cancelled: bool
    ) -> None:
        """Record what the handler did: its result, or its error (retried when passing)."""
        exc = outcome.get("error")
        if exc is None:
            self._settle(
                job_id, JobStatus.SUCCEEDED, message="done", result=outcome.get("result") or {}
            )
        elif isinstance(exc, JobCancelled) or (
            isinstance(exc, processes.ChildStopped) and cancelled
        ):
            self._settle(job_id, JobStatus.CANCELLED, message="cancelled")
        elif isinstance(exc, WorkerStopping):
            self._requeue_on_shutdown(job_id)
        elif (reason := passing_reason(exc)) in params_type.RETRY_ON and self._retry(
            job_id, exc, reason or "", params_type
        ):
            return
        elif isinstance(exc, MoodlabError):
            result = exc.result if isinstance(exc, JobFailed) else None
            self._settle(job_id, JobStatus.FAILED, error=str(exc), result=result)
        else:  # a bug in a handler must not take the worker down
            error = f"{type(exc).__name__}: {exc}"
            self._settle(job_id, JobStatus.FAILED, error=error, log=outcome.get("trace", ""))

    def _retry(
        self, job_id: int, exc: BaseException, reason: str, params_type: type[JobParams]
    ) -> bool:
        """Queue the job again after a passing error, if it has tries left; the backoff is
        on the database's clock. False when it has none (it then fails)."""
        with self.database.session() as session:
            job = self._mine(session, job_id)
            if job is None or job.attempts >= job.max_attempts:
                return False
            delay = retry_delay(params_type.RETRY_DELAY_S, job.attempts)
            why = f"try {job.attempts} of {job.max_attempts} failed ({reason}): {exc}"
            job.status = JobStatus.QUEUED
            job.worker = None
            job.run_after = database_time(session) + timedelta(seconds=delay)
            job.message = f"{why}; try {job.attempts + 1} in {delay:g} s"
            queue.add_log(session, job_id, f"[retry] {job.message}")
            dispatch(session, job, delay_s=delay)
        log.warning("job %s: %s", job_id, why)
        return True

    def _run_a_part(self, parent_id: int) -> bool:
        """Inside job ``parent_id``: claim one of its queued parts and run it here, as any
        worker would (its own heartbeat, its own outcome); False when none waits.

        A job waiting for parts on other workers recovers their stale jobs too: this
        worker is busy, and may be the only one left to notice a part's worker died.
        """
        self._recover_stale_jobs()
        with self.database.session() as session:
            job_id = queue.claim_next(session=session, worker=self.name, parent_id=parent_id)
        if job_id is None:
            return False
        self._run_claimed(job_id)
        return True

    def _watch(self, ctx: JobContext, done: threading.Event, limit_s: float) -> bool:
        """Until the handler ends: beat, read the cancel flag, keep the time limit. True
        when the job passed its limit (its handler was asked to stop, and given
        STOP_GRACE_SECONDS to do so).

        A failed beat is logged and the next one tried: a beat missed while the database
        is locked (retried briefly first) only makes the job look late, never orphaned.
        """
        every = self.settings.job_heartbeat_seconds
        deadline = time.monotonic() + limit_s
        next_beat = time.monotonic() + every
        beating = True
        while not done.wait(
            min(CANCEL_POLL_SECONDS, max(0.0, min(next_beat, deadline) - time.monotonic()))
        ):
            if time.monotonic() >= deadline:
                ctx.cancel_event.set()
                done.wait(STOP_GRACE_SECONDS)
                return True
            if not beating:  # recovered elsewhere: wait for the handler to notice
                continue
            try:
                if time.monotonic() < next_beat:
                    if self._cancel_asked(ctx.job_id):
                        ctx.cancel_event.set()
                    continue
                next_beat = time.monotonic() + every
                if not retry_locked(
                    lambda: self._job_beat(ctx), what=f"job {ctx.job_id}'s heartbeat"
                ):
                    beating = False
                    continue
                self._beat(ctx.job_id)
            except Exception:  # logged, and the next beat tried: never a silent death
                log.exception("job %s: heartbeat failed; trying again next beat", ctx.job_id)
        return False

    def _cancel_asked(self, job_id: int) -> bool:
        with self.database.session() as session:
            return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))

    def _job_beat(self, ctx: JobContext) -> bool:
        """Stamp the job's heartbeat; False when it is no longer this worker's to run."""
        with self.database.session() as session:
            job = session.get(Job, ctx.job_id)
            if job is None or job.worker != self.name or job.status != JobStatus.RUNNING:
                ctx.cancel_event.set()  # recovered by another worker: stop quietly
                return False
            job.heartbeat_at = db_now()
            if job.cancel_requested:
                ctx.cancel_event.set()
            return True

    def _mine(self, session: Session, job_id: int) -> Job | None:
        """The job, if it is still running on this worker (not recovered elsewhere)."""
        job = session.get(Job, job_id)
        if job is not None and job.status == JobStatus.RUNNING and job.worker == self.name:
            return job
        return None

    def _settle(
        self,
        job_id: int,
        status: JobStatus,
        *,
        message: str = "",
        error: str | None = None,
        result: dict[str, Any] | None = None,
        log: str = "",
    ) -> None:
        with self.database.session() as session:
            job = self._mine(session, job_id)
            if job is None:
                return
            if log:
                queue.add_log(session, job_id, log)
            queue.finish(job, status, message=message, error=error)
            job.result = result

    def _requeue_on_shutdown(self, job_id: int) -> None:
        with self.database.session() as session:
            job = self._mine(session, job_id)
            if job is None:
                return
            job.status = JobStatus.QUEUED
            job.worker = None
            job.attempts -= 1  # a clean shutdown is not the job's fault
            job.message = f"re-queued: worker {self.name} shut down"
            dispatch(session, job)


def here_worker(
    settings: Settings, database: Database, *, kinds: Mapping[str, JobKind]
) -> JobWorker:
    """The worker that runs a command's job in the command's own process."""
    name = f"cli:{socket.gethostname()}:{os.getpid()}"
    return JobWorker(settings, database, name=name, kinds=kinds)


def run_here(
    settings: Settings, database: Database, job: Job, *, kinds: Mapping[str, JobKind]
) -> Job:
    """Run a queued job in this process (the CLI's way), recorded like any other.

    The CLI calls the same start service as the page, then this instead of waiting for
    a worker. A job made of parts (a training run's folds) runs the parts no worker has
    taken here too. Ctrl-C cancels it, parts included: a command-line run is not handed
    to a worker to finish.
    """
    done = try_run_here(settings, database, job.id, kinds=kinds)
    if done is None:
        raise MoodlabError(f"job {job.id} was taken by a worker before it could run here")
    return done


def try_run_here(
    settings: Settings, database: Database, job_id: int, *, kinds: Mapping[str, JobKind]
) -> Job | None:
    """``run_here`` for job ``job_id`` if it is still queued; None when a worker has it."""
    worker = here_worker(settings, database, kinds=kinds)
    with database.session() as session:
        if not queue.claim(session=session, job_id=job_id, worker=worker.name):
            return None
    return run_taken(worker, job_id)


def run_taken(worker: JobWorker, job_id: int) -> Job:
    """Run job ``job_id``, which ``worker`` has claimed, in this process."""
    try:
        worker._run_claimed(job_id)
    except KeyboardInterrupt:
        worker._settle(job_id, JobStatus.CANCELLED, message="interrupted on the command line")
        raise
    with worker.database.session() as session:
        done = session.get(Job, job_id)
        assert done is not None
        return done


def start_here(
    start: Callable[..., Job],
    *,
    settings: Settings,
    database: Database,
    actor: Actor,
    params: JobParams,
    kinds: Mapping[str, JobKind],
) -> Job:
    """``start`` (a start service such as start_crawl) queues the job; it then runs here,
    with its handler from ``kinds`` (moodlab.job_kinds.KINDS).

    The job is claimed in the transaction that queues it, so a worker polling the same
    database never takes it first.
    """
    worker = here_worker(settings, database, kinds=kinds)
    with database.session() as session:
        job = start(session=session, actor=actor, settings=settings, params=params)
        queue.take(job, worker=worker.name)
        job_id = job.id
    return run_taken(worker, job_id)
