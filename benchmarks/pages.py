"""Every lead page at lab scale, through Streamlit's AppTest: first run, rerun, rerun after a vote.

    .venv/bin/python benchmarks/pages.py [--images 10000 100000] [--pages agreement datasets]

For each size the data is made directly with bulk inserts into a temporary SQLite
file (benchmarks/annotation.py's ``fill``: 4 votes on each image, spread over 8
annotators, the last 2,000 voted images one vote short), so N images carry about
4N votes. Each lead page is then run through ``streamlit.testing.v1.AppTest`` as
a logged-in lead:

- *first run*: a fresh AppTest, the services' caches emptied first;
- *rerun, votes unchanged*: the same AppTest run again (median of 3);
- *rerun after one new vote*: one annotator records one vote through the service
  layer, then the page runs again (median of 3 such votes).

Each figure is wall time; the CPU seconds the process used for it (all threads,
``time.process_time``) are printed too, as they depend less on other work on the
machine.

The Datasets page is also rerun after a widget change (a new seed). The machine's
load average is printed before and after: other work on the cores slows every figure.
docs/benchmarks.md quotes the table.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

LEAD_PAGES = (
    "home",
    "annotate",
    "music_votes",
    "music",
    "crawl",
    "agreement",
    "datasets",
    "training",
    "video",
    "jobs",
    "users",
)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def set_up(folder: Path, images: int):
    """A migrated SQLite file with ``images`` images and ~4x votes, a lead, display copies."""
    os.environ.update(
        {
            "MOODLAB_DATABASE_URL": f"sqlite:///{folder / 'lab.sqlite'}",
            "MOODLAB_DATA_DIR": str(folder / "data"),
            "MOODLAB_MUSIC_DIR": str(folder / "music"),
        }
    )
    from annotation import fill
    from PIL import Image as PILImage
    from sqlalchemy import select

    from moodlab.core import auth
    from moodlab.core.auth import Actor
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.core.migrations import upgrade
    from moodlab.core.models import Image, Role
    from moodlab.core.storage import ContentStore
    from moodlab.images.intake import display_path

    settings = Settings.from_env()
    database = Database(settings.database_url)
    upgrade(database)
    started = time.perf_counter()
    user_ids = fill(database, images, 4 * images)
    print(
        f"  filled {images:,} images and ~{4 * images:,} votes in"
        f" {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    with database.session() as session:
        user = auth.create_user(
            session=session,
            actor=Actor.command_line(),
            name="lena",
            role=Role.LEAD,
            password="x" * 12,
        )
        lead = Actor.of(user)
        shas = session.scalars(select(Image.sha256)).all()
    # Display copies: the pages show images (ties, the annotate queue); one small JPEG
    # linked under every image's name keeps 100,000 of them cheap.
    buffer = io.BytesIO()
    PILImage.new("RGB", (160, 120), (90, 120, 160)).save(buffer, "JPEG")
    source = folder / "one.jpg"
    source.write_bytes(buffer.getvalue())
    store = ContentStore(settings.data_dir)
    for sha in shas:
        path = display_path(store, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(source)
    annotators = [
        Actor(id=uid, name=f"a{i}", role=Role.ANNOTATOR) for i, uid in enumerate(user_ids)
    ]
    return settings, database, lead, annotators


def clear_caches() -> None:
    from moodlab.datasets import snapshots, ties
    from moodlab.votes import agreement, arrays

    arrays.forget_votes()
    agreement._REPORTS.clear()
    snapshots._DECISIONS.clear()
    snapshots._PLANS.clear()
    ties._DISPUTED.clear()
    snapshots._HASHES.clear()


def one_vote(settings, database, annotators, round_: int) -> None:
    from moodlab.core import moods
    from moodlab.votes import annotation

    person = annotators[round_ % len(annotators)]
    with database.session() as session:
        image = annotation.next_image(session=session, actor=person, settings=settings)
        annotation.answer(
            session=session, actor=person, image_id=image.id, mood=moods.names()[round_ % 8]
        )


CPU: dict[str, list[float]] = {}  # CPU seconds of this process per measurement kind


def timed_run(at, kind: str = "") -> float:
    """Wall seconds of one run; its CPU seconds (all threads) go to CPU[kind]."""
    started, cpu = time.perf_counter(), time.process_time()
    at.run()
    seconds = time.perf_counter() - started
    CPU.setdefault(kind, []).append(time.process_time() - cpu)
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception[0].value}")
    return seconds


def measure(page: str, settings, database, annotators, lead, rounds: int) -> dict:
    from streamlit.testing.v1 import AppTest

    from moodlab.ui.session import ACTOR_KEY, LAST_SEEN_KEY

    clear_caches()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state[ACTOR_KEY] = lead
    at.session_state[LAST_SEEN_KEY] = time.time()
    at.run()
    at.switch_page(f"pages/{page}.py")
    CPU.clear()
    row = {"page": page, "first": timed_run(at, "first")}
    row["rerun"] = statistics.median(timed_run(at, "rerun") for _ in range(rounds))
    after = []
    for i in range(rounds):
        one_vote(settings, database, annotators, i)
        after.append(timed_run(at, "after_vote"))
    row["after_vote"] = statistics.median(after)
    if page == "datasets":
        seed = next(w for w in at.number_input if w.label == "Seed")
        seed.set_value(seed.value + 1)
        row["widget"] = timed_run(at, "widget")
    row["cpu"] = {kind: statistics.median(values) for kind, values in CPU.items()}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pages", nargs="+", default=list(LEAD_PAGES))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # AppTest's session_state set-up warns "missing ScriptRunContext" on every page.
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)
    table = []
    for images in args.images:
        with tempfile.TemporaryDirectory(prefix="moodlab-bench-pages-") as tmp:
            print(f"{images:,} images ({load()})", flush=True)
            settings, database, lead, annotators = set_up(Path(tmp), images)
            warm = measure("home", settings, database, annotators, lead, 1)  # imports, once
            print(f"  warm-up (home): {warm['first']:.2f} s", flush=True)
            for page in args.pages:
                before = load()
                row = measure(page, settings, database, annotators, lead, args.rounds)
                row |= {"images": images, "load_before": before, "load_after": load()}
                table.append(row)
                print(
                    f"  {page}: first {row['first']:.2f} s, rerun {row['rerun']:.2f} s,"
                    f" after a vote {row['after_vote']:.2f} s"
                    + (f", new seed {row['widget']:.2f} s" if "widget" in row else "")
                    + f" ({before}; after: {row['load_after']})",
                    flush=True,
                )
                cpu = ", ".join(f"{k} {v:.2f} s" for k, v in row["cpu"].items())
                print(f"    CPU seconds of this process: {cpu}", flush=True)
            database.dispose()
    print("\n| page | images | first run | rerun, votes unchanged | rerun after one new vote |")
    print("|---|---|---|---|---|")
    for row in table:
        extra = f" (new seed: {row['widget']:.2f} s)" if "widget" in row else ""
        print(
            f"| {row['page']} | {row['images']:,} | {row['first']:.2f} s | {row['rerun']:.2f} s"
            f" | {row['after_vote']:.2f} s{extra} |"
        )
    print(f"\n{load()} at the end")


if __name__ == "__main__":
    main()
