"""What a job's handler gets: its params' settings and actor, progress, logs, cancellation.

Handlers import this module only; the queue and the table of kinds import the handlers
(docs/architecture.md, "Jobs"), so the arrows never loop back.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sqlalchemy import update
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job
from moodlab.core.timeutil import utcnow

if TYPE_CHECKING:
    from collections.abc import Mapping

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
    Forms and argparse read their defaults from the dataclass fields.
    """

    KIND: ClassVar[str]

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
    between units of work (both ``progress`` and ``log`` check too). ``settings``
    and ``actor`` are the worker's settings and the user who started the job.
    """

    # Progress writes closer together than this are coalesced.
    MIN_WRITE_INTERVAL = 0.25

    def __init__(
        self,
        database: Database,
        job_id: int,
        *,
        settings: Settings,
        actor: Actor,
        stop_event: threading.Event | None = None,
    ):
        self.database = database
        self.job_id = job_id
        self.settings = settings
        self.actor = actor
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
        with self.database.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))

    def log(self, line: str) -> None:
        self.check_cancelled()
        stamped = f"{utcnow():%H:%M:%S} {line}"
        with self.database.session() as session:
            job = session.get(Job, self.job_id)
            if job is not None:
                job.log_tail = append_log(job.log_tail, stamped)
