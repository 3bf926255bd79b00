"""Child processes (ffmpeg) with a deadline, killed when their job is cancelled.

A job's handler runs with its cancel flag bound to its thread (``watched_by``, which
the worker enters); ``run`` and ``Child`` read it, so every ffmpeg a job starts is
killed within a fraction of a second of a cancel or of the job's time limit, and none
runs past MOODLAB_CHILD_TIMEOUT_SECONDS (docs/postgresql.md, "Time limits").
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from moodlab.core.errors import MoodlabError

# A child outside any job (a command's own probe, say) may run this long.
DEFAULT_TIMEOUT_S = 3600.0
# How often a waiting parent looks at the cancel flag.
POLL_S = 0.1

_local = threading.local()


class ChildStopped(MoodlabError):
    """A child process was killed: past its deadline, or its job was cancelled."""


@contextmanager
def watched_by(cancel: threading.Event, *, timeout_s: float | None = None) -> Iterator[None]:
    """In this thread, children die when ``cancel`` is set, or after ``timeout_s``."""
    saved = getattr(_local, "cancel", None), getattr(_local, "timeout_s", None)
    _local.cancel, _local.timeout_s = cancel, timeout_s
    try:
        yield
    finally:
        _local.cancel, _local.timeout_s = saved


def _cancel() -> threading.Event | None:
    return getattr(_local, "cancel", None)


def _timeout(timeout_s: float | None) -> float:
    bound = getattr(_local, "timeout_s", None) or DEFAULT_TIMEOUT_S
    return min(timeout_s, bound) if timeout_s is not None else bound


def _name(command: Sequence[Any]) -> str:
    from pathlib import Path

    return Path(str(command[0])).name if command else "child"


def run(
    command: Sequence[Any], *, input: Any = None, timeout: float | None = None, **options: Any
) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run(command, ...)`` that kills the child at its deadline (the least of
    ``timeout`` and the job's) or when its job is cancelled, then raises ChildStopped."""
    limit = _timeout(timeout)
    cancel = _cancel()
    check = options.pop("check", False)
    options.setdefault("stdout", subprocess.PIPE if options.pop("capture_output", False) else None)
    if options["stdout"] is subprocess.PIPE:
        options.setdefault("stderr", subprocess.PIPE)
    if input is not None:
        options["stdin"] = subprocess.PIPE
    process = subprocess.Popen(list(command), **options)
    if input is not None:
        _feed(process, input)
    waited = 0.0
    while True:
        try:
            out, err = process.communicate(timeout=POLL_S)
            done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
            if check:
                done.check_returncode()
            return done
        except subprocess.TimeoutExpired:
            waited += POLL_S
            why = None
            if cancel is not None and cancel.is_set():
                why = "its job was cancelled"
            elif waited >= limit:
                why = f"it ran past its limit of {limit:g} s (MOODLAB_CHILD_TIMEOUT_SECONDS)"
            if why is not None:
                process.kill()
                process.communicate()
                raise ChildStopped(f"{_name(command)} was killed: {why}") from None


def _feed(process: subprocess.Popen[Any], data: Any) -> None:
    """Write ``data`` to the child's stdin from a thread of its own, then close it.

    ``communicate(input, timeout=...)`` cannot be retried after a timeout: the retry may
    not pass the input again, and without it CPython stops writing what is left, so a
    child reading more than a pipe's buffer (ffmpeg encoding a track) waited for ever.
    The parent keeps reading stdout and stderr with ``communicate`` meanwhile.
    """
    stdin, process.stdin = process.stdin, None

    def write() -> None:
        try:
            if stdin is not None:
                stdin.write(data)
        except OSError:  # the child ended or was killed before it read everything
            pass
        finally:
            try:
                if stdin is not None:
                    stdin.close()
            except OSError:
                pass

    threading.Thread(target=write, name="child-stdin", daemon=True).start()


def stopper(timeout: float | None = None) -> Callable[[], None]:
    """For a child out of this module's reach that this thread feeds step by step
    (moviepy's own ffmpeg, fed a frame at a time): a function to call at each step,
    which raises ChildStopped once the job is cancelled or the deadline (the least of
    ``timeout`` and the job's) passes; the library then closes its child."""
    cancel, limit = _cancel(), _timeout(timeout)
    deadline = time.monotonic() + limit

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise ChildStopped("stopped: its job was cancelled")
        if time.monotonic() > deadline:
            raise ChildStopped(
                f"stopped: it ran past its limit of {limit:g} s (MOODLAB_CHILD_TIMEOUT_SECONDS)"
            )

    return check


class Child:
    """A long-lived child (``subprocess.Popen``) that a watcher thread kills when its job
    is cancelled or its deadline passes; ``stopped`` says why, if it was."""

    def __init__(self, command: Sequence[Any], *, timeout: float | None = None, **options: Any):
        self.process = subprocess.Popen(list(command), **options)
        self.stopped: str | None = None
        self._done = threading.Event()
        cancel, limit = _cancel(), _timeout(timeout)
        threading.Thread(target=self._watch, args=(cancel, limit), daemon=True).start()

    def _watch(self, cancel: threading.Event | None, limit: float) -> None:
        waited = 0.0
        while not self._done.wait(POLL_S):
            if self.process.poll() is not None:
                return
            waited += POLL_S
            if cancel is not None and cancel.is_set():
                self.stopped = "its job was cancelled"
            elif waited >= limit:
                self.stopped = f"it ran past its limit of {limit:g} s"
            if self.stopped:
                self.process.kill()
                return

    def close(self) -> None:
        self._done.set()
