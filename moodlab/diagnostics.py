"""The worker check: a short job that proves a worker is alive and can write data.

The lead starts it from the Jobs page (or `moodlab jobs check-worker`) when
jobs seem stuck; its result names the worker, its libraries and its disk space.
"""

from __future__ import annotations

import platform
import shutil
import time
from importlib import metadata

from moodlab import jobs
from moodlab.config import Settings
from moodlab.storage import ContentStore

REPORTED_PACKAGES = ("streamlit", "sqlalchemy", "tensorflow", "keras", "pillow", "moviepy")


@jobs.register("worker_check", title="worker check")
def worker_check(ctx: jobs.JobContext, params: dict) -> dict:
    settings = Settings.from_env()
    steps = max(1, int(params.get("steps", 5)))
    pause = float(params.get("pause_seconds", 0.2))
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
