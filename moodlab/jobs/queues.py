"""Which queue a kind of job goes to, and how long a job of that kind may run.

Each kind's params type declares its queue (``QUEUE``: `training` for a training
run and its parts, `io` for the rest) and its time limit (``TIME_LIMIT_S``); the lead
moves a kind to another queue with MOODLAB_JOB_QUEUES and changes a limit with
MOODLAB_JOB_TIME_LIMITS (docs/postgresql.md, "Queues" and "Time limits"). A worker
serves the queues it was started for (`moodlab worker --queues training`).
"""

from __future__ import annotations

import re
from typing import Any

from moodlab.core.config import Settings
from moodlab.core.errors import ConfigError

TRAINING = "training"
IO = "io"
# What `moodlab worker` serves when not told: every queue moodlab's kinds use.
DEFAULT_QUEUES = (IO, TRAINING)
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def _pairs(raw: str, setting: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in raw.split(","):
        if not entry.strip():
            continue
        name, sep, value = (part.strip() for part in entry.partition("="))
        if not sep or not name or not value:
            raise ConfigError(f"{setting}: {entry.strip()!r} is not `kind=value`")
        pairs[name] = value
    return pairs


def queue_overrides(settings: Settings) -> dict[str, str]:
    """MOODLAB_JOB_QUEUES as {kind: queue}; a ConfigError naming a bad entry."""
    pairs = _pairs(settings.job_queues, "MOODLAB_JOB_QUEUES")
    for kind, queue in pairs.items():
        if not _NAME.fullmatch(queue):
            raise ConfigError(
                f"MOODLAB_JOB_QUEUES: {kind}={queue!r}: a queue name is lower-case letters,"
                " digits, - and _"
            )
    return pairs


def time_limit_overrides(settings: Settings) -> dict[str, float]:
    """MOODLAB_JOB_TIME_LIMITS as {kind: seconds}; a ConfigError naming a bad entry."""
    limits: dict[str, float] = {}
    for kind, raw in _pairs(settings.job_time_limits, "MOODLAB_JOB_TIME_LIMITS").items():
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= 30 * 86_400:
            raise ConfigError(
                f"MOODLAB_JOB_TIME_LIMITS: {kind}={raw!r}: expected seconds, more than 0 and"
                " at most 2,592,000 (30 days)"
            )
        limits[kind] = seconds
    return limits


def queue_of(params_type: Any, settings: Settings) -> str:
    """The queue a job of this params type goes to."""
    kind: str = params_type.KIND
    return queue_overrides(settings).get(kind, params_type.QUEUE)


def time_limit_of(params_type: Any, settings: Settings) -> tuple[float, str]:
    """A kind's time limit in seconds, and where it comes from (for the failure message)."""
    kind: str = params_type.KIND
    overrides = time_limit_overrides(settings)
    if kind in overrides:
        return overrides[kind], f"MOODLAB_JOB_TIME_LIMITS {kind}={overrides[kind]:g}"
    return float(params_type.TIME_LIMIT_S), f"the {kind} default"


def parse_queues(raw: str) -> tuple[str, ...]:
    """`--queues training,io` as a tuple; a ConfigError naming a bad name."""
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        raise ConfigError("--queues: give at least one queue name (io, training)")
    for name in names:
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"--queues: {name!r} is not a queue name (lower-case letters, digits, - and _)"
            )
    return names


def all_queues(settings: Settings) -> tuple[str, ...]:
    """Every queue moodlab's kinds use: io, training and any MOODLAB_JOB_QUEUES names."""
    return tuple(dict.fromkeys((*DEFAULT_QUEUES, *queue_overrides(settings).values())))
