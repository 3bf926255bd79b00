"""A votes CSV import at lab scale: 1,000,000 lines into one SQLite file.

    .venv/bin/python benchmarks/votes_import.py [--lines 1000000] [--annotators 8] [--vote]

Builds a fresh database with lines/4 images and the annotators, writes a CSV of
4 votes per image (sha256, annotator, mood), then runs `moodlab votes import FILE
--json` as a whole command in a child process, twice: the first run stores every
vote, the second must change nothing. Prints wall time and peak memory (the
child's maximum RSS) of each, and the load average. With --vote, this process
casts votes one after another (30 ms apart, through the page's outbox path) on
images the file does not touch while each import runs, and prints how many landed
during it and how long they waited (p50, p95, max). docs/benchmarks.md quotes it;
tests/votes/test_csv_votes.py checks that such votes are all stored, without a clock.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from moodlab.core import moods  # noqa: E402
from moodlab.core.auth import Actor  # noqa: E402
from moodlab.core.config import Settings  # noqa: E402
from moodlab.core.db import Database  # noqa: E402
from moodlab.core.migrations import upgrade  # noqa: E402
from moodlab.core.models import Image, Role, User  # noqa: E402
from moodlab.core.timeutil import utcnow  # noqa: E402
from moodlab.votes import annotation  # noqa: E402

VOTE_IMAGES = 10_000  # images for --vote (5 minutes of votes), numbered after the file's


def fill(database: Database, n_images: int, n_annotators: int) -> None:
    now = utcnow()
    with database.session() as session:
        session.execute(
            insert(User),
            [
                {
                    "name": f"a{i}",
                    "role": Role.ANNOTATOR,
                    "password_hash": "x",
                    "active": True,
                    "created_at": now,
                }
                for i in range(n_annotators)
            ],
        )
        for start in range(1, n_images + 1, 50_000):
            session.execute(
                insert(Image),
                [
                    {
                        "sha256": f"{i:064x}",
                        "width": 640,
                        "height": 480,
                        "created_at": now,
                        "phash": "",
                        "original_suffix": ".jpg",
                        "response_count": 0,
                    }
                    for i in range(start, min(start + 50_000, n_images + 1))
                ],
            )


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
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        # wait4: this child's own rusage (ru_maxrss in kB on Linux), not all children's.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"import failed: {child.stderr.read().decode() if child.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024, json.loads(out_path.read_text())


class Voter(threading.Thread):
    """Casts votes on its own images until stopped; each vote's wait and error."""

    def __init__(self, url: str, first_image: int, gap: float = 0.03):
        super().__init__(daemon=True)
        self.database = Database(url)
        self.settings = Settings.from_env({"MOODLAB_DATABASE_URL": url})
        with self.database.session() as session:
            user = session.scalars(select(User).where(User.name == "voter")).one()
            self.actor = Actor.of(user)
        self.next_image, self.gap = first_image, gap
        self.stop, self.waits, self.errors = threading.Event(), [], []

    def run(self) -> None:
        while not self.stop.is_set():
            outbox = annotation.Outbox()
            entry = {"seq": 1, "image_id": self.next_image, "mood": "Happy"}
            begin = time.perf_counter()
            annotation.apply_outbox(
                session_factory=self.database.session,
                actor=self.actor,
                outbox=outbox,
                entries=[entry],
                settings=self.settings,
            )
            self.waits.append(time.perf_counter() - begin)
            if outbox.error:
                self.errors.append(outbox.error)
            self.next_image += 1
            self.stop.wait(self.gap)

    def summary(self) -> str:
        if not self.waits:
            return "no vote was cast during the import"
        waits = sorted(self.waits)
        p95 = waits[min(len(waits) - 1, int(0.95 * len(waits)))]
        return (
            f"{len(waits)} votes cast, {len(self.errors)} not saved; wait p50"
            f" {statistics.median(waits) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms,"
            f" max {waits[-1] * 1000:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--vote", action="store_true", help="cast votes during each import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moodlab-bench-") as folder:
        root = Path(folder)
        url = f"sqlite:///{root / 'db.sqlite'}"
        env = {**os.environ, "MOODLAB_DATABASE_URL": url, "MOODLAB_DATA_DIR": str(root / "d")}
        database = Database(url)
        upgrade(database)
        n_images = (args.lines + 3) // 4
        fill(database, n_images, args.annotators)
        if args.vote:
            fill_voter(database, n_images)
        database.dispose()
        csv_path = root / "votes.csv"
        write_csv(csv_path, args.lines, args.annotators)
        mb = csv_path.stat().st_size / 1e6
        print(f"{args.lines:,} lines ({mb:.0f} MB), {n_images:,} images")
        print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
        first_vote = n_images + 1
        for label in ("first import", "second import"):
            voter = Voter(url, first_vote) if args.vote else None
            if voter:
                voter.start()
            seconds, peak_mb, report = run_import(env, csv_path)
            counts = {k: report[k] for k in ("imported", "changed", "unchanged", "batches")}
            print(
                f"{label}: {seconds:.1f} s wall, peak RSS {peak_mb:.0f} MB,"
                f" rejected {len(report['rejected'])}, {counts}"
            )
            if voter:
                voter.stop.set()
                voter.join()
                voter.database.dispose()
                first_vote = voter.next_image
                print(f"  while the command ran: {voter.summary()}")
        print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


def fill_voter(database: Database, after: int) -> None:
    """The --vote annotator and VOTE_IMAGES images of its own, after the file's."""
    now = utcnow()
    with database.session() as session:
        session.execute(
            insert(User),
            [
                {
                    "name": "voter",
                    "role": Role.ANNOTATOR,
                    "password_hash": "x",
                    "active": True,
                    "created_at": now,
                }
            ],
        )
        session.execute(
            insert(Image),
            [
                {
                    "sha256": f"{i:064x}",
                    "width": 640,
                    "height": 480,
                    "created_at": now,
                    "phash": "",
                    "original_suffix": ".jpg",
                    "response_count": 0,
                }
                for i in range(after + 1, after + 1 + VOTE_IMAGES)
            ],
        )


if __name__ == "__main__":
    main()
