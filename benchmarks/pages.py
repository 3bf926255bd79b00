"""Every lead page at lab scale, through Streamlit's AppTest: first run, rerun, rerun after a vote.

    .venv/bin/python benchmarks/pages.py [--images 10000 100000] [--pages agreement datasets]
        [--tracks 200] [--videos 50] [--models 30] [--reruns 100]

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

Beside the images the lab has ``--tracks`` tracks (one 600 KB file each, as a generated
track), ``--videos`` videos (a 2 MB file, 12 sampled frames and a 120-sample timeline
each) and ``--models`` models (10 folds of 60 epochs in each report, and out-of-fold
probabilities for 80% of the images in a file beside them), so that a page that read
files or whole reports on every rerun would show it. Then each page is rerun
``--reruns`` times more: the *memory growth* is the process's resident memory after
them less before, per rerun (AppTest runs the page in this process, as the server
does), and *media* the bytes a rerun handed Streamlit's in-memory media store (a file's path
given to ``st.image``, ``st.audio`` or ``st.video`` is read whole on every run).
docs/benchmarks.md quotes the table.
"""

from __future__ import annotations

import argparse
import gc
import io
import logging
import os
import secrets
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
    "my_answers",
    "guidelines",
    "music_votes",
    "music",
    "crawl",
    "agreement",
    "datasets",
    "pool",
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
            password=secrets.token_urlsafe(),
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


TRACK_BYTES = 600_000  # about a generated default track (32 were 19.5 MB)
VIDEO_BYTES = 2_000_000


def fill_media(folder: Path, settings, database, lead, *, tracks: int, videos: int, models: int):
    """Tracks, videos and models as a busy lab has them (files linked to one each)."""
    import numpy as np
    from sqlalchemy import func, select

    from moodlab.core import moods, predictions
    from moodlab.core.models import Image, Track, TrackStatus, TrainedModel, Video

    names = moods.names()
    rng = np.random.default_rng(0)
    track_file, video_file, frame_file = (
        folder / "track.mp3",
        folder / "video.mp4",
        folder / "frame.jpg",
    )
    track_file.write_bytes(rng.bytes(TRACK_BYTES))
    video_file.write_bytes(rng.bytes(VIDEO_BYTES))
    frame_file.write_bytes((folder / "one.jpg").read_bytes())
    settings.music_dir.mkdir(parents=True, exist_ok=True)
    for folder_name in ("videos", "frames", "models"):
        (settings.data_dir / folder_name).mkdir(parents=True, exist_ok=True)
    with database.session() as session:
        for i in range(tracks):
            os.link(track_file, settings.music_dir / f"track-{i}.mp3")
            mood = names[i % len(names)]
            session.add(
                Track(
                    path=f"track-{i}.mp3",
                    title=f"{mood} {i}",
                    mood=mood,
                    intended_mood=mood,
                    status=TrackStatus.ACCEPTED,
                    duration_s=30.0,
                    license="CC0",
                )
            )
        for i in range(videos):
            os.link(video_file, settings.data_dir / "videos" / f"video-{i}.mp4")
            frames = []
            for k in range(12):
                os.link(frame_file, settings.data_dir / "frames" / f"v{i}-{k}.jpg")
                frames.append(
                    {
                        "path": f"frames/v{i}-{k}.jpg",
                        "t": k * 2.5,
                        "mood": "Happy",
                        "probability": 0.5,
                    }
                )
            timeline = [
                {"t": t * 0.25, "mood": "Happy", "probs": dict.fromkeys(names, 0.125)}
                for t in range(120)
            ]
            session.add(
                Video(
                    kind="video",
                    path=f"videos/video-{i}.mp4",
                    title=f"clip {i}",
                    mood="Happy",
                    confidence=0.5,
                    duration_s=30.0,
                    seconds=10.0,
                    created_by_id=lead.id,
                    inputs={},
                    report={"frames": frames, "timeline": timeline, "tracks": [], "segments": []},
                )
            )
        count = session.scalar(select(func.count()).select_from(Image)) or 0
        shas = session.scalars(select(Image.sha256).limit(int(count * 0.8))).all()
        labels = rng.integers(0, len(names), len(shas))
        probs = rng.dirichlet(np.ones(len(names)), len(shas)).astype(np.float32)
        oof = "models/bench.oof.npz"
        predictions.save(
            settings.data_dir / oof, predictions.Predictions(list(shas), labels, probs)
        )
        history = [
            {"epoch": e, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.45}
            for e in range(1, 61)
        ]
        matrix = [[12 if r == c else 1 for c in range(8)] for r in range(8)]
        for i in range(models):
            scores = [0.6 + 0.01 * k for k in range(10)]
            folds = [
                {"fold": k + 1, "accuracy": a, "updates": 900, "history": history}
                for k, a in enumerate(scores)
            ]
            session.add(
                TrainedModel(
                    arch=("deep", "plain")[i % 2],
                    path=f"models/model-{i}.keras",
                    cv_scores={"scores": scores},
                    cv_mean=float(np.mean(scores)),
                    cv_std=float(np.std(scores)),
                    test_accuracy=0.6,
                    report={
                        "folds": folds,
                        "final_history": history,
                        "test": {
                            "accuracy": 0.6,
                            "adjacent_accuracy": 0.8,
                            "macro_f1": 0.6,
                            "confusion_matrix": matrix,
                        },
                        "settings": {"epochs": 60, "folds": 10, "batch_size": 64},
                        "updates": {"per_fold_mean": 900},
                        "moods": names,
                        "out_of_fold": {"file": oof, "images": len(shas)},
                    },
                )
            )


def rss_bytes() -> int:
    """This process's resident memory (Linux)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


MEDIA = [0]  # bytes pages handed Streamlit's media store since the count was reset


def count_media() -> None:
    """Count what pages hand Streamlit's in-memory media store (the bytes it keeps and
    hashes on every run that draws them: a file's path is read whole)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    load = MemoryMediaFileStorage.load_and_get_id

    def counted(self, path_or_data, *args, **kwargs):
        size = os.path.getsize(path_or_data) if isinstance(path_or_data, str) else None
        MEDIA[0] += size if size is not None else len(path_or_data)
        return load(self, path_or_data, *args, **kwargs)

    MemoryMediaFileStorage.load_and_get_id = counted


def clear_caches() -> None:
    from moodlab import home
    from moodlab.datasets import out_of_fold, review, snapshots, ties
    from moodlab.votes import agreement, arrays, guidelines

    arrays.forget_votes()
    guidelines.forget_answers()
    agreement._REPORTS.clear()
    snapshots._DECISIONS.clear()
    snapshots._PLANS.clear()
    ties._DISPUTED.clear()
    snapshots._HASHES.clear()
    out_of_fold._REVIEWS.clear()
    review._REVIEWS.clear()
    home._VOTE_FIGURES.clear()


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


def measure(page: str, settings, database, annotators, lead, rounds: int, reruns: int = 0) -> dict:
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
    if reruns:
        gc.collect()
        before, MEDIA[0] = rss_bytes(), 0
        times = [timed_run(at, "memory") for _ in range(reruns)]
        gc.collect()
        row["growth"] = (rss_bytes() - before) / reruns
        row["reruns_median"] = statistics.median(times)
        row["reruns_cpu"] = statistics.median(CPU["memory"])
        row["media"] = MEDIA[0] / reruns
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pages", nargs="+", default=list(LEAD_PAGES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--videos", type=int, default=50)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--reruns", type=int, default=100, help="for the memory growth")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # AppTest's session_state set-up warns "missing ScriptRunContext" on every page.
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)
    count_media()
    table = []
    for images in args.images:
        with tempfile.TemporaryDirectory(prefix="moodlab-bench-pages-") as tmp:
            print(f"{images:,} images ({load()})", flush=True)
            settings, database, lead, annotators = set_up(Path(tmp), images)
            counts = {"tracks": args.tracks, "videos": args.videos, "models": args.models}
            fill_media(Path(tmp), settings, database, lead, **counts)
            print(f"  with {args.tracks} tracks, {args.videos} videos, {args.models} models")
            warm = measure("home", settings, database, annotators, lead, 1)  # imports, once
            print(f"  warm-up (home): {warm['first']:.2f} s", flush=True)
            for page in args.pages:
                before = load()
                row = measure(page, settings, database, annotators, lead, args.rounds, args.reruns)
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
                if "growth" in row:
                    print(
                        f"    {args.reruns} more reruns: median {row['reruns_median']:.2f} s"
                        f" (CPU {row['reruns_cpu']:.2f} s),"
                        f" memory {row['growth'] / 1024:+.1f} KB a rerun,"
                        f" {row['media'] / 1e6:.1f} MB a rerun into Streamlit's media store",
                        flush=True,
                    )
            database.dispose()
    print(
        "\n| page | images | first run | rerun, votes unchanged | rerun after one new vote"
        f" | median of {args.reruns} reruns | memory a rerun | media a rerun |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in table:
        extra = f" (new seed: {row['widget']:.2f} s)" if "widget" in row else ""
        memory = (
            f" | {row['reruns_median']:.2f} s | {row['growth'] / 1024:+.1f} KB"
            f" | {row['media'] / 1e6:.1f} MB"
            if "growth" in row
            else " | | |"
        )
        print(
            f"| {row['page']} | {row['images']:,} | {row['first']:.2f} s | {row['rerun']:.2f} s"
            f" | {row['after_vote']:.2f} s{extra}{memory} |"
        )
    print(f"\n{load()} at the end")


if __name__ == "__main__":
    main()
