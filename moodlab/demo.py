"""`moodlab demo`: a labelled demo workspace where every page has something to show.

Everything lives in its own folder (database, data, music), apart from the lab's
real workspace, and is marked as a demo (a marker file the app shows as a banner):

1. procedurally generated pictures, a set per mood, whose colour follows the
   mood's angle on the circle (neighbouring moods look alike, as real ones do) and
   whose texture follows arousal (sharp, busy patterns for high arousal, soft
   gradients for low), imported through the normal import job;
2. four demo annotators whose votes are simulated with realistic disagreement:
   each has a skill, mistakes mostly go to a neighbouring mood, ambiguous pictures
   split the votes, one annotator has not finished, and a few answers are skips;
3. votes on the generated music library, so some tracks are accepted;
4. a frozen snapshot and two quick training runs (plain and deep, 16 px images,
   3 folds, each given enough optimizer updates to learn: twice the measured
   minimum, moodlab.training.budget.MIN_UPDATES) so the Training page has a
   comparison; the better model is activated;
5. a slideshow video of a few pictures with music that fits them.

A second worker process works beside the build where a second core is free: it
renders the music library while the pictures are made and voted on, trains the plain
CNN while the build trains the deep one, then takes deep folds (docs/benchmarks.md,
"The demo").
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from moodlab.core import auth, moods
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.core.migrations import upgrade
from moodlab.core.models import Job, JobStatus, Role, TrainedModel
from moodlab.core.quiet import quiet_tensorflow
from moodlab.datasets import snapshots
from moodlab.demo_data import kept_pictures, picture, simulated_vote
from moodlab.images.actions import start_import
from moodlab.images.importer import ImportParams
from moodlab.job_kinds import KINDS
from moodlab.jobs.handoff import wait_for
from moodlab.jobs.worker import start_here
from moodlab.music.actions import start_generate
from moodlab.music.library import GenerateParams
from moodlab.training.actions import start_training
from moodlab.training.budget import MIN_UPDATES
from moodlab.training.precision import usable_cores
from moodlab.training.runs import TrainParams, estimated_updates

MARKER = "DEMO-WORKSPACE.txt"
LEAD = "demo-lead"
# Four annotators as the paper had; skill is the chance of voting the picture's own mood.
ANNOTATORS = {"demo-ana": 0.86, "demo-ben": 0.78, "demo-cai": 0.72, "demo-dana": 0.66}
# demo-dana has answered this share of the pictures: the rest stay pending.
UNFINISHED_SHARE = 0.85
# Printed and shown on the log-in page: a demo of generated data, not a lab.
PASSWORD = "demo-password"  # noqa: S105
# Generated pictures per mood: about a third reach the train tier (3 of 4 votes), some
# 20 a mood; with 8 a mood the deep CNN stayed near 0.5 whatever its updates.
PER_MOOD = 48  # `moodlab demo --per-mood`
# The demo's two quick runs; each fills in its snapshot, architecture and epochs. The
# generated pictures carry their mood in colour and coarse texture, which 16 px keeps
# (the deep CNN's CV mean was 0.77 at 32 px, 0.75-0.82 at 16 px, for a quarter of the
# arithmetic); real photos need the paper's 128. The epochs are chosen from the
# snapshot's size so that each fold gets UPDATES[arch] optimizer updates. Batches of 16
# learnt far more per update than batches of 8; at the minimum of 400 the deep CNN
# still underfit on some seeds, at 800 it did not (docs/benchmarks.md, "The demo").
TRAINING = TrainParams(snapshot_id=0, folds=3, epochs=1, batch_size=16, image_size=16, seed=0)
UPDATES = {"plain": 2 * MIN_UPDATES["plain"], "deep": 2 * MIN_UPDATES["deep"]}
# The generated music library of the demo: one track per mood (the default library has
# 4), since rendering the library was 42% of the demo's build time.
TRACKS_PER_MOOD = 1
HELPER_POLL_SECONDS = 0.25  # the second worker's MOODLAB_WORKER_POLL_SECONDS
Say = Callable[[str], None]


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def environment(self) -> dict[str, str]:
        return {
            "MOODLAB_DATABASE_URL": f"sqlite:///{(self.root / 'moodlab.sqlite').resolve()}",
            "MOODLAB_DATA_DIR": str((self.root / "data").resolve()),
            "MOODLAB_MUSIC_DIR": str((self.root / "music").resolve()),
            "MOODLAB_MUSIC_TRACKS_PER_MOOD": str(TRACKS_PER_MOOD),
            # the slideshow's pictures: the lead may make videos from them in the app too
            "MOODLAB_VIDEO_INPUT_DIRS": str((self.root / "slideshow").resolve()),
        }

    @property
    def marker(self) -> Path:
        return self.root / "data" / MARKER

    def exists(self) -> bool:
        return self.marker.exists()


def remove(root: Path) -> None:
    """Delete a demo workspace (and only a demo workspace)."""
    import shutil

    if not root.exists():
        return
    if not Workspace(root).exists():
        raise MoodlabError(f"{root} is not a moodlab demo workspace: not deleting it")
    shutil.rmtree(root)


def is_demo(settings: Settings) -> bool:
    """Whether the app runs on a demo workspace (the pages show a banner)."""
    return (settings.data_dir / MARKER).exists()


def build(
    root: Path,
    *,
    per_mood: int = PER_MOOD,
    seed: int = 0,
    say: Say = print,
) -> dict:
    """Make the demo workspace in ``root``, which must be missing or empty."""
    workspace = Workspace(root)
    if root.exists() and any(root.iterdir()):
        raise MoodlabError(f"{root} is not empty: the demo is built in a folder of its own")
    os.environ.update(workspace.environment)  # the jobs below read their settings from it
    quiet_tensorflow()  # the demo trains here: its log shows the steps, not TF's start-up
    helper = usable_cores() >= 2
    # Two processes train at once on two cores: one TensorFlow thread each is faster
    # than two each (docs/benchmarks.md, "The demo").
    threads = max(1, usable_cores() // 2) if helper else 0
    settings = replace(Settings.from_env(), training_threads=threads)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    workspace.marker.write_text("This workspace was made by `moodlab demo`: generated data.\n")
    database = Database(settings.database_url)
    upgrade(database)
    with _second_worker(helper, threads, say) as release:
        lead, annotators = _users(database)
        say("generating the default music library" + (" (on the second worker)" * helper))
        music = (
            _queued(start_generate, settings, database, lead, GenerateParams())
            if helper
            else start_here(
                start_generate,
                settings=settings,
                database=database,
                actor=lead,
                params=GenerateParams(),
                kinds=KINDS,
            ).id  # no worker to wait for: here, now
        )
        truth = _images(settings, database, lead, per_mood, say)
        _votes(settings, database, lead, annotators, truth, seed, say)
        _finished(settings, database, music)
        _music_votes(settings, database, annotators)
        snapshot_id = _snapshot(settings, database, lead, say)
        models = _training(settings, database, lead, snapshot_id, helper, say)
        release()  # it winds down (a second or two, TensorFlow's) while the video is made
        video = _video(root, settings, database, lead, say)
    database.dispose()
    return {
        "dir": str(root),
        "images": len(truth),
        "snapshot_id": snapshot_id,
        "models": models,
        "video": video,
        "lead": LEAD,
        "annotators": list(ANNOTATORS),
        "password": PASSWORD,
        "environment": workspace.environment,
    }


def _users(database: Database) -> tuple[Actor, list[Actor]]:
    people = {}
    with database.session() as session:
        for name, role in [(LEAD, Role.LEAD)] + [(n, Role.ANNOTATOR) for n in ANNOTATORS]:
            user = auth.create_user(
                session=session, actor=Actor.command_line(), name=name, role=role, password=PASSWORD
            )
            people[name] = Actor.of(user)
    return people[LEAD], [people[name] for name in ANNOTATORS]


def _images(
    settings: Settings, database: Database, lead: Actor, per_mood: int, say: Say
) -> dict[str, str]:
    """Generated pictures through the import job; {sha256: the mood it was drawn for}."""
    truth = {}
    with tempfile.TemporaryDirectory(prefix="moodlab-demo-") as folder:
        pictures, reused = kept_pictures(settings, per_mood)
        for (mood, n), data in pictures.items():
            truth[hashlib.sha256(data).hexdigest()] = mood
            (Path(folder) / f"{mood.lower()}-{n:03d}.jpg").write_bytes(data)
        kept = f"; {reused} made before, kept in {settings.cache_dir}" if reused else ""
        say(f"importing {len(truth)} generated pictures ({per_mood} per mood{kept})")
        job = start_here(
            start_import,
            settings=settings,
            database=database,
            actor=lead,
            params=ImportParams(path=folder, label="demo"),
            kinds=KINDS,
        )
    if job.status != JobStatus.SUCCEEDED:
        raise MoodlabError(f"the demo import failed: {job.error}")
    return truth


def _votes(
    settings: Settings,
    database: Database,
    lead: Actor,
    annotators: list[Actor],
    truth: dict[str, str],
    seed: int,
    say: Say,
) -> None:
    """The simulated annotators' answers, brought in as a lab brings in votes collected
    elsewhere: a votes CSV, imported (its checks: known annotators and moods, no image
    past its quorum, none frozen; docs/architecture.md, "Annotation")."""
    import csv

    from sqlalchemy import select

    from moodlab.core.models import Image
    from moodlab.votes.csv_votes import CSV_COLUMNS, import_votes

    rng = np.random.default_rng(seed)
    with database.session() as session:  # in the order they were stored, as the seed wants
        stored = session.scalars(select(Image.sha256).order_by(Image.id)).all()
    say(f"simulating the votes of {len(annotators)} annotators on {len(stored)} pictures")
    with tempfile.TemporaryDirectory(prefix="moodlab-demo-votes-") as folder:
        path = Path(folder) / "votes.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for sha in stored:
                mood = truth.get(sha)
                if mood is None:
                    continue  # not one of ours
                ambiguity = rng.beta(1.2, 3)
                for k, (person, skill) in enumerate(
                    zip(annotators, ANNOTATORS.values(), strict=True)
                ):
                    if k == len(annotators) - 1 and rng.random() > UNFINISHED_SHARE:
                        continue
                    vote = simulated_vote(mood, skill, ambiguity, rng)
                    writer.writerow([sha, person.name, vote or "skip"])
        with database.session() as session:
            report = import_votes(session=session, actor=lead, path=path, settings=settings)
    if report.rejected:
        raise MoodlabError(f"the demo's votes were refused: {report.rejected[:3]}")


def _queued(
    start: Callable[..., Job], settings: Settings, database: Database, lead: Actor, params: object
) -> int:
    """Queue a job for the second worker (or for ``_finished`` to run here); its id."""
    with database.session() as session:
        return start(session=session, actor=lead, settings=settings, params=params).id


def _finished(settings: Settings, database: Database, job_id: int) -> Job:
    """Job ``job_id`` once it has succeeded: a worker's, or run here if none took it."""
    job = wait_for(settings, database, job_id, kinds=KINDS, say=lambda line: None)
    if job.status != JobStatus.SUCCEEDED:
        raise MoodlabError(f"the demo's {job.kind} job {job.id} failed: {job.error}")
    return job


def _music_votes(settings: Settings, database: Database, annotators: list[Actor]) -> None:
    """Votes on the generated library that accept most tracks for the mood they were made for."""
    from sqlalchemy import select

    from moodlab.core.models import Track
    from moodlab.music.votes import vote_track

    rng = np.random.default_rng(1)
    with database.session() as session:
        tracks = session.execute(select(Track.id, Track.intended_mood)).all()
    for track_id, mood in tracks:
        if mood is None:
            continue  # the demo's tracks are all generated, each for a mood
        for person, skill in zip(annotators[:3], ANNOTATORS.values(), strict=False):
            vote = (
                mood
                if rng.random() < skill + 0.1
                else str(rng.choice([m.name for m in moods.neighbours(mood)]))
            )
            with database.session() as session:
                vote_track(
                    session=session, actor=person, settings=settings, track_id=track_id, mood=vote
                )


def _snapshot(settings: Settings, database: Database, lead: Actor, say: Say) -> int:
    with database.session() as session:
        snapshot = snapshots.freeze(
            session=session, actor=lead, settings=settings, rules=snapshots.Rules(seed=0)
        )
        say(
            f"froze snapshot #{snapshot.id}: {sum(snapshot.train_counts.values())} train,"
            f" {sum(snapshot.test_counts.values())} test"
        )
        return snapshot.id


@contextmanager
def _second_worker(helper: bool, threads: int, say: Say) -> Iterator[Callable[[], None]]:
    """One more worker process while the demo builds, where a core is free for it: it
    takes the queued jobs (the music library, the plain run) and the deep run's folds,
    which are jobs of their own (docs/architecture.md, "Jobs").

    Yields ``release``, which asks the worker to stop once nothing is left for it; the
    context waits for it to have stopped.
    """
    if not helper:
        yield lambda: None
        return
    # It imports TensorFlow while the build makes the pictures (nothing is queued for it
    # then, once the music is kept), and looks for jobs every quarter second.
    environment = {
        **os.environ,
        "MOODLAB_TRAINING_THREADS": str(threads),
        "MOODLAB_WORKER_POLL_SECONDS": str(HELPER_POLL_SECONDS),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "moodlab", "worker", "--warm"],
        env=environment,
        stdin=subprocess.DEVNULL,
    )
    say(f"a second worker (process {worker.pid}) works beside the build")
    try:
        yield worker.terminate  # SIGTERM stops an idle worker (docs/cli.md)
    finally:
        worker.terminate()  # idle by now: every job it could take has finished
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _training(
    settings: Settings,
    database: Database,
    lead: Actor,
    snapshot_id: int,
    helper: bool,
    say: Say,
) -> list[int]:
    """The plain run queued for the second worker, the deep run here (its folds shared);
    without a second worker both run here, one after the other."""
    from moodlab.training.registry import activate

    with database.session() as session:
        snapshot = snapshots.get_snapshot(session=session, actor=lead, snapshot_id=snapshot_id)
        images = sum(snapshot.train_counts.values())
    runs = {}
    for arch in ("plain", "deep"):
        params = replace(TRAINING, snapshot_id=snapshot_id, arch=arch)
        per_epoch = estimated_updates(images, params)  # with epochs=1
        runs[arch] = replace(params, epochs=max(1, math.ceil(UPDATES[arch] / max(1, per_epoch))))
        steps = estimated_updates(images, runs[arch])
        say(
            f"training {arch} ({params.folds} folds, {runs[arch].epochs} epochs, about {steps}"
            f" updates per fold, {params.image_size} px)"
            + (" on the second worker" * (helper and arch == "plain"))
        )
    plain = (
        _queued(start_training, settings, database, lead, runs["plain"])
        if helper
        else start_here(
            start_training,
            settings=settings,
            database=database,
            actor=lead,
            params=runs["plain"],
            kinds=KINDS,
        ).id
    )
    deep_job = start_here(
        start_training,
        settings=settings,
        database=database,
        actor=lead,
        params=runs["deep"],
        kinds=KINDS,
    )
    # Done already if it ran here.
    plain_job = wait_for(settings, database, plain, kinds=KINDS, say=lambda line: None)
    made = []
    for arch, job in (("plain", plain_job), ("deep", deep_job)):
        if job.status != JobStatus.SUCCEEDED or job.result is None:
            raise MoodlabError(f"the demo's {arch} training failed: {job.error}")
        made.append(job.result["model_id"])
    with database.session() as session:
        best = max(made, key=lambda i: session.get_one(TrainedModel, i).cv_mean or 0)
        # Generated data: the demo activates its better model even if it were near chance.
        activate(session=session, actor=lead, model_id=best, force=True)
    return made


def _video(root: Path, settings: Settings, database: Database, lead: Actor, say: Say) -> str:
    """A slideshow of four sunny pictures, made with the active model and the library."""
    from moodlab.video.actions import start_video
    from moodlab.video.request import VideoParams

    folder = root / "slideshow"
    folder.mkdir()
    inputs = []
    for n in range(4):
        path = folder / f"sunny-{n + 1}.jpg"
        path.write_bytes(picture("Happy", 1000 + n, (640, 480)))
        inputs.append(str(path.resolve()))
    say("making a slideshow video with matching music")
    job = start_here(
        start_video,
        settings=settings,
        database=database,
        actor=lead,
        params=VideoParams(inputs=inputs),
        kinds=KINDS,
    )
    if job.status != JobStatus.SUCCEEDED or job.result is None:
        raise MoodlabError(f"the demo video failed: {job.error}")
    return job.result["output"]
