"""What a job's handler gets: its params' settings and actor, progress, logs, cancellation.

Handlers import this module only; the table of kinds (moodlab.job_kinds) imports the
handlers (docs/architecture.md, "Jobs"), so the arrows never loop back.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, JobLog, JobStatus, Role
from moodlab.core.timeutil import utcnow

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from sqlalchemy.orm import Session

    from moodlab.core.db import Database

# The log tail kept in the row: enough for the last few hundred lines.
LOG_TAIL_CHARS = 20_000


class JobCancelled(Exception):
    """Raised inside a handler when the job's cancel flag is set."""


class WorkerStopping(Exception):
    """Raised inside a handler when its worker is shutting down; the job is re-queued."""


class JobFailed(MoodlabError):
    """A handler's "nothing was done": the job fails with this message and keeps ``result``
    (e.g. an intake whose every input was refused keeps its rejections by reason)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None):
        super().__init__(message)
        self.result = result


@dataclass
class JobParams:
    """Base of each kind's params: the one home of its defaults and its validation.

    A job row stores ``to_json()``; the worker rebuilds the params with ``from_json``.
    Forms and argparse read their defaults from the dataclass fields. The class says
    which kind of job it starts, what a person calls that job and who may start it, so
    ``enqueue`` needs no table of kinds (moodlab.job_kinds, which names each kind's
    handler, sits above the areas: docs/architecture.md, "Jobs").
    """

    KIND: ClassVar[str]  # its key in moodlab.job_kinds.KINDS, stored in the job row
    TITLE: ClassVar[str]  # what a person calls the job: "web crawl" (a web crawl job)
    ROLE: ClassVar[Role]  # the least role that may start it; the lead may start any
    # The queue its workers serve (moodlab.jobs.queues; MOODLAB_JOB_QUEUES moves it).
    QUEUE: ClassVar[str] = "io"
    # The longest a job of the kind may run (MOODLAB_JOB_TIME_LIMITS changes it).
    TIME_LIMIT_S: ClassVar[float] = 3600.0
    # How often it may be tried in all: after a passing error of RETRY_ON's reasons
    # (moodlab.jobs.retry), waiting RETRY_DELAY_S doubled at each try, or after its
    # worker died. Two: one more try, as before kinds declared their own.
    TRIES: ClassVar[int] = 2
    RETRY_ON: ClassVar[frozenset[str]] = frozenset({"database", "disk"})
    RETRY_DELAY_S: ClassVar[float] = 10.0

    def validate(self, settings: Settings) -> None:
        """Raise MoodlabError naming the bad value; the default checks nothing."""

    def authorize(self, *, session: Session, actor: Actor, settings: Settings) -> None:
        """Raise PermissionDenied when ``actor`` may not use these values (paths, say).

        Called by ``enqueue`` after ``validate``; the default allows everything.
        """

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of field ``name``, for a form or an argparse flag."""
        for f in fields(cls):
            if f.name == name:
                return f.default
        raise KeyError(name)


@dataclass(frozen=True)
class JobResult:
    """Base of a kind's typed result: what pages read of ``job.result`` (a JSON dict).

    ``from_json`` takes the keys the dataclass names and ignores the rest, so a page
    reads attributes, never string keys, and a partial result (a running job's) works.
    """

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in (data or {}).items() if key in names})

    def summary(self) -> str:
        """The result in one line, for a job card: "6 stored, 1 duplicate"."""
        return ""


def append_log(log_tail: str, line: str) -> str:
    text = f"{log_tail}{line}\n"
    return text[-LOG_TAIL_CHARS:]


class JobContext:
    """Progress, logging and cancellation for one running job, each a short DB write.

    Handlers call ``progress`` and ``log`` as they go and ``check_cancelled``
    between units of work (both ``progress`` and ``log`` check too). The worker sets
    ``cancel_event`` within about half a second of a cancel being asked
    (moodlab.jobs.worker.CANCEL_POLL_SECONDS), so a handler that waits should wait on
    it (``wait``, or the event itself). ``settings`` and ``actor`` are the worker's
    settings and the user who started the job.

    A job may be made of *parts*, jobs of their own that any worker claims (a training
    run's folds): ``add_parts`` queues them, ``parts`` reads them, ``run_a_part`` runs a
    queued one here (the worker gives ``run_part``, so a run finishes with one worker or
    none but this process). A part's progress adds up into its parent's.
    """

    # Progress writes closer together than this are coalesced.
    MIN_WRITE_INTERVAL = 0.25
    # The longest ``wait`` sleeps before it looks at the worker's stop flag again (it
    # wakes at once for a cancel, which the worker reads every CANCEL_POLL_SECONDS).
    WAIT_SLICE = 0.1

    def __init__(
        self,
        database: Database,
        job_id: int,
        *,
        settings: Settings,
        actor: Actor,
        stop_event: threading.Event | None = None,
        parent_id: int | None = None,
        run_part: Callable[[int], bool] | None = None,
    ):
        self.database = database
        self.job_id = job_id
        self.settings = settings
        self.actor = actor
        self.parent_id = parent_id  # the job this one is a part of, if any
        self._run_part = run_part  # claims and runs a queued part of a job; False if none
        self.cancel_event = threading.Event()
        self.stop_event = stop_event or threading.Event()
        self._last_write = 0.0

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()
        if self.stop_event.is_set():
            raise WorkerStopping()

    def progress(
        self,
        fraction: float,
        message: str | None = None,
        *,
        result: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        """Record how far along the job is; ``result`` shows live partial results."""
        self.check_cancelled()
        now = time.monotonic()
        if not force and now - self._last_write < self.MIN_WRITE_INTERVAL:
            return
        self._last_write = now
        values: dict[str, Any] = {"progress": min(1.0, max(0.0, float(fraction)))}
        if message is not None:
            values["message"] = message
        if result is not None:
            values["result"] = result

        def write(session: Session) -> None:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))
            if self.parent_id is not None:
                roll_up(session, self.parent_id, message)

        self._write(write, what=f"job {self.job_id}'s progress")

    # -- parts ---------------------------------------------------------------------------------

    def add_parts(self, parts: Sequence[JobParams]) -> bool:
        """Queue ``parts`` as jobs of their own, once; False when they were queued before
        (this job is running again after its worker stopped, and finds them)."""
        added = False

        def add(session: Session) -> None:
            nonlocal added
            if session.scalar(select(Job.id).where(Job.parent_id == self.job_id).limit(1)):
                return
            from moodlab.jobs.engine import dispatch
            from moodlab.jobs.queues import queue_of

            for part in parts:
                job = Job(
                    kind=type(part).KIND,
                    params=part.to_json(),
                    parent_id=self.job_id,
                    created_by_id=self.actor.id,
                    queue=queue_of(type(part), self.settings),
                    max_attempts=type(part).TRIES,
                    message="waiting for a worker",
                )
                session.add(job)
                session.flush()
                dispatch(session, job)
            added = True

        self._write(add, what=f"job {self.job_id}'s parts")
        return added

    def parts(self) -> list[Job]:
        """This job's parts as they stand, oldest first (detached rows)."""
        with self.database.session() as session:
            query = select(Job).where(Job.parent_id == self.job_id).order_by(Job.id)
            return list(session.scalars(query))

    def run_a_part(self) -> bool:
        """Run one of this job's queued parts here; False when none waits (or this
        context has no worker to run it)."""
        self.check_cancelled()
        return self._run_part is not None and self._run_part(self.job_id)

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking for a cancel or a worker's stop; then check both."""
        end = time.monotonic() + seconds
        while not (self.cancel_event.is_set() or self.stop_event.is_set()):
            left = end - time.monotonic()
            if left <= 0:
                break
            self.cancel_event.wait(min(left, self.WAIT_SLICE))
        self.check_cancelled()

    def _write(self, change: Callable[[Session], Any], *, what: str) -> None:
        """One short transaction, retried briefly while SQLite is locked (then DatabaseBusy)."""
        from moodlab.core.db import retry_locked

        def write() -> None:
            with self.database.session() as session:
                change(session)

        retry_locked(write, what=what)

    def log(self, line: str) -> None:
        self.check_cancelled()
        stamped = f"{utcnow():%H:%M:%S} {line}"

        def append(session: Session) -> None:
            # One INSERT: a line never reads or rewrites the lines before it.
            session.add(JobLog(job_id=self.job_id, line=stamped))

        self._write(append, what=f"job {self.job_id}'s log")


def roll_up(session: Session, parent_id: int, message: str | None = None) -> None:
    """A running job's progress as the mean of its parts' (equal parts of the work)."""
    part = aliased(Job)
    mean = (
        select(func.coalesce(func.avg(part.progress), 0.0))
        .where(part.parent_id == parent_id)
        .scalar_subquery()
    )
    values: dict[str, Any] = {"progress": mean}
    if message is not None:
        values["message"] = message
    session.execute(
        update(Job).where(Job.id == parent_id, Job.status == JobStatus.RUNNING).values(**values)
    )
