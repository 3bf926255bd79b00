"""A votes CSV import at lab scale: 1,000,000 lines into one SQLite file.

    .venv/bin/python benchmarks/votes_import.py [--lines 1000000] [--annotators 8]

Builds a fresh database with lines/4 images and the annotators, writes a CSV of
4 votes per image (sha256, annotator, mood), then runs `moodlab votes import FILE
--json` as a whole command in a child process, twice: the first run stores every
vote, the second must change nothing. Prints wall time and peak memory (the
child's maximum RSS) of each, and the load average. docs/benchmarks.md quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from moodlab.core import moods  # noqa: E402
from moodlab.core.db import Database  # noqa: E402
from moodlab.core.migrations import upgrade  # noqa: E402
from moodlab.core.models import Image, Role, User  # noqa: E402
from moodlab.core.timeutil import utcnow  # noqa: E402


def fill(database: Database, n_images: int, n_annotators: int) -> None:
    now = utcnow()
    with database.session() as session:
        session.execute(
            insert(User),
            [{"name": f"a{i}", "role": Role.ANNOTATOR, "password_hash": "x", "active": True,
              "created_at": now} for i in range(n_annotators)],
        )  # fmt: skip
        for start in range(1, n_images + 1, 50_000):
            session.execute(
                insert(Image),
                [{"sha256": f"{i:064x}", "width": 640, "height": 480, "created_at": now,
                  "phash": "", "original_suffix": ".jpg", "response_count": 0}
                 for i in range(start, min(start + 50_000, n_images + 1))],
            )  # fmt: skip


def write_csv(path: Path, lines: int, n_annotators: int) -> None:
    names = moods.names()
    with open(path, "w", encoding="utf-8") as out:
        out.write("image,annotator,mood\n")
        for n in range(lines):
            image, slot = divmod(n, 4)
            who = (image + slot) % n_annotators
            out.write(f"{image + 1:064x},a{who},{names[(image * 7 + slot) % 8]}\n")


def run_import(env: dict[str, str], csv_path: Path) -> tuple[float, float, dict]:
    """(seconds, peak RSS in MB, JSON report) of one whole `moodlab votes import`."""
    out_path = csv_path.with_suffix(".out.json")
    with open(out_path, "w") as out:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "moodlab", "votes", "import", str(csv_path), "--json"],
            stdout=out, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        )  # fmt: skip
        # wait4: this child's own rusage (ru_maxrss in kB on Linux), not all children's.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"import failed: {child.stderr.read().decode() if child.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024, json.loads(out_path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--annotators", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodlab-bench-") as folder:
        root = Path(folder)
        url = f"sqlite:///{root / 'db.sqlite'}"
        env = {**os.environ, "MOODLAB_DATABASE_URL": url, "MOODLAB_DATA_DIR": str(root / "d")}
        database = Database(url)
        upgrade(database)
        fill(database, (args.lines + 3) // 4, args.annotators)
        database.dispose()
        csv_path = root / "votes.csv"
        write_csv(csv_path, args.lines, args.annotators)
        mb = csv_path.stat().st_size / 1e6
        print(f"{args.lines:,} lines ({mb:.0f} MB), {(args.lines + 3) // 4:,} images")
        print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
        for label in ("first import", "second import"):
            seconds, peak_mb, report = run_import(env, csv_path)
            counts = {k: report[k] for k in ("imported", "changed", "unchanged", "batches")}
            print(
                f"{label}: {seconds:.1f} s wall, peak RSS {peak_mb:.0f} MB,"
                f" rejected {len(report['rejected'])}, {counts}"
            )
        print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
