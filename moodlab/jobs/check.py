"""The worker check: a short job that proves a worker is alive and can write data.

The lead starts it from the Jobs page (or `moodlab jobs check-worker`) when
jobs seem stuck; its result names the worker, its libraries and its disk space.
"""

from __future__ import annotations

import platform
import shutil
import time
from dataclasses import dataclass
from importlib import metadata

from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.storage import ContentStore
from moodlab.jobs.context import JobContext, JobParams, JobResult

REPORTED_PACKAGES = ("streamlit", "sqlalchemy", "tensorflow", "keras", "pillow", "moviepy")


@dataclass
class CheckParams(JobParams):
    KIND = "worker_check"
    TITLE = "worker check"
    ROLE = Role.LEAD
    TIME_LIMIT_S = 300.0
    steps: int = 5
    pause_seconds: float = 0.2

    def validate(self, settings: Settings) -> None:
        if self.steps < 1 or self.pause_seconds < 0:
            raise MoodlabError("a worker check needs at least 1 step and a pause of 0 s or more")


@dataclass(frozen=True)
class CheckResult(JobResult):
    """A worker check's result: the worker's Python and its free disk."""

    python: str | None = None
    data_dir_free_gb: float | None = None

    def summary(self) -> str:
        if self.python is None:
            return ""
        return f"worker OK: Python {self.python}, {self.data_dir_free_gb} GB free"


def run_check(ctx: JobContext, params: CheckParams) -> dict:
    settings = ctx.settings
    steps, pause = params.steps, params.pause_seconds
    for step in range(steps):
        ctx.progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(pause)
    ctx.log("writing a probe file to the data dir")
    store = ContentStore(settings.data_dir)
    probe = store.put_bytes(f"moodlab worker check {time.time()}".encode())
    store.path_for(probe).unlink()
    usage = shutil.disk_usage(settings.data_dir)
    ctx.log("done")
    return {
        "python": platform.python_version(),
        "data_dir": str(settings.data_dir.resolve()),
        "data_dir_free_gb": round(usage.free / 1e9, 1),
        "packages": {name: _version(name) for name in REPORTED_PACKAGES},
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
