"""The worker process: claims queued jobs one at a time and runs them.

Start one with `moodlab worker` (`moodlab serve` starts one for you). Several
workers may share a database; each job runs on exactly one of them. The face that
starts a worker hands it the table of job kinds (moodlab.job_kinds.KINDS) and its
start-up tasks (the CLI's: removing image files no row names, repairing derived
ones), so the mechanism here knows no area's work (docs/architecture.md, "Layering").
"""

from __future__ import annotations

import logging
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

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database, retry_locked
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, JobStatus, Worker
from moodlab.core.storage import remove_stale_temp_files
from moodlab.core.timeutil import utcnow
from moodlab.jobs import queue
from moodlab.jobs.context import (
    JobCancelled,
    JobContext,
    JobFailed,
    JobParams,
    WorkerStopping,
    append_log,
)
from moodlab.jobs.kind import JobKind, kind

log = logging.getLogger("moodlab.worker")

# A task a worker runs when it starts, before it claims a job: what a crash may have
# left behind (moodlab.images.derived.repair_derived, say).
StartTask = Callable[[Settings, Database], object]
# How often a running job's cancel flag is read (one small SELECT): a cancel asked on the
# Jobs page takes effect within about this, not at the next heartbeat (a write, every
# MOODLAB_JOB_HEARTBEAT_SECONDS); handlers' waits wake on the flag (JobContext.wait).
CANCEL_POLL_SECONDS = 0.5


class JobWorker:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        name: str | None = None,
        *,
        kinds: Mapping[str, JobKind],
        on_start: Sequence[StartTask] = (),
    ):
        self.settings = settings
        self.database = database
        self.kinds = kinds
        self.on_start = tuple(on_start)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop_event = threading.Event()
        self._last_recovery = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self, *, once: bool = False) -> int:
        """Run the start-up tasks, then work until stopped (or, with ``once``, until the
        queue is empty); jobs run."""
        self._register()
        for task in self.on_start:
            task(self.settings, self.database)
        self.clean_stale_temp_files()
        ran = 0
        try:
            while not self.stop_event.is_set():
                if self.run_one():
                    ran += 1
                elif once:
                    break
                else:
                    self.stop_event.wait(self.settings.worker_poll_seconds)
        finally:
            self._unregister()
        return ran

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
            session.merge(Worker(name=self.name, host=host, pid=pid, heartbeat_at=utcnow()))

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
                .values(stopped_at=utcnow(), current_job_id=None)
            )

    def _beat(self, job_id: int | None) -> None:
        def beat() -> None:
            with self.database.session() as session:
                session.execute(
                    update(Worker)
                    .where(Worker.name == self.name)
                    .values(heartbeat_at=utcnow(), current_job_id=job_id)
                )

        retry_locked(beat, what=f"worker {self.name}'s heartbeat")

    # -- one job -----------------------------------------------------------------------------

    def run_one(self) -> bool:
        """Recover stale jobs, then claim and run one queued job; False when none waits."""
        self._recover_stale_jobs()
        self._beat(None)
        with self.database.session() as session:
            job_id = queue.claim_next(session=session, worker=self.name)
        if job_id is None:
            return False
        self._run_claimed(job_id)
        return True

    def _recover_stale_jobs(self) -> None:
        now = utcnow().timestamp()
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
        self._beat(job_id)  # busy from now on: a command does not hand this worker its job
        done = threading.Event()
        beating = threading.Thread(target=self._heartbeat_loop, args=(ctx, done), daemon=True)
        beating.start()
        log.info("job %s (%s): started on %s", job_id, kind_name, self.name)
        try:
            job_kind = kind(kind_name, self.kinds)
            result = job_kind.run(ctx, job_kind.params.from_json(params))
        except JobCancelled:
            self._settle(job_id, JobStatus.CANCELLED, message="cancelled")
        except WorkerStopping:
            self._requeue_on_shutdown(job_id)
        except MoodlabError as exc:
            result = exc.result if isinstance(exc, JobFailed) else None
            self._settle(job_id, JobStatus.FAILED, error=str(exc), result=result)
        except Exception as exc:  # a bug in a handler must not take the worker down
            trace = traceback.format_exc(limit=8)
            self._settle(job_id, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}", log=trace)
        else:
            self._settle(job_id, JobStatus.SUCCEEDED, message="done", result=result or {})
        finally:
            done.set()
            beating.join()
        log.info("job %s: finished", job_id)

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

    def _heartbeat_loop(self, ctx: JobContext, done: threading.Event) -> None:
        """Beat until the job ends, reading its cancel flag between beats; a failed beat
        is logged and the next one tried.

        The thread never dies of a database error: a beat missed while the database is
        locked (retried briefly first) only makes the job look late, never orphaned.
        """
        every = self.settings.job_heartbeat_seconds
        next_beat = time.monotonic() + every
        while not done.wait(min(CANCEL_POLL_SECONDS, max(0.0, next_beat - time.monotonic()))):
            try:
                if time.monotonic() < next_beat:
                    if self._cancel_asked(ctx.job_id):
                        ctx.cancel_event.set()
                    continue
                next_beat = time.monotonic() + every
                if not retry_locked(
                    lambda: self._job_beat(ctx), what=f"job {ctx.job_id}'s heartbeat"
                ):
                    return
                self._beat(ctx.job_id)
            except Exception:  # logged, and the next beat tried: never a silent death
                log.exception("job %s: heartbeat failed; trying again next beat", ctx.job_id)

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
            job.heartbeat_at = utcnow()
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
                job.log_tail = append_log(job.log_tail, log)
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
