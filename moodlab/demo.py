"""`moodlab demo`: a labelled demo workspace where every page has something to show.

Everything lives in its own folder (database, data, music), apart from the lab's
real workspace, and is marked as a demo (a marker file the app shows as a banner):

1. photographs (wallpapers from Debian packages, labelled into moods by the team:
   moodlab/demo_photos/ATTRIBUTION.csv), and where a mood has too few of them,
   procedurally generated pictures whose colour follows the mood's angle on the
   circle and whose texture follows arousal; imported through the normal import job;
2. four demo annotators whose votes are simulated with realistic disagreement:
   each has a skill, mistakes mostly go to a neighbouring mood, ambiguous pictures
   split the votes, and a few answers are skips; a few dozen images are left open so
   that every demo login, the lead's included, has images left to answer;
3. the annotators' votes on the generated music library: each track is judged for
   the mood it was made for, at most one annotator otherwise, so every mood has an
   accepted track and the demo's video carries no warning;
4. a frozen snapshot and a quick training run of each of ARCHITECTURES (16 px
   images, 3 folds, each given enough optimizer updates to learn: twice the measured
   minimum, moodlab.training.budget.MIN_UPDATES) so the Training page has a
   comparison; the one with the better test score is activated;
5. a slideshow video of photographs held out of the pool, with music that fits them.

A second worker process works beside the build where a second core is free: it
renders the music library while the pictures are made and voted on, trains the
first architecture while the build trains the last one, then takes its folds
(docs/benchmarks.md, "The demo").
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
from sqlalchemy import select

from moodlab import home
from moodlab.core import auth, moods
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.core.migrations import upgrade
from moodlab.core.models import Image, Job, JobStatus, Role, TrainedModel
from moodlab.core.quiet import quiet_tensorflow
from moodlab.datasets import snapshots
from moodlab.demo_data import (
    keep_features,
    kept_pictures,
    photos,
    restore_features,
    simulated_vote,
)
from moodlab.images.actions import start_import
from moodlab.images.importer import ImportParams
from moodlab.job_kinds import KINDS
from moodlab.jobs.handoff import wait_for
from moodlab.jobs.worker import start_here
from moodlab.music.actions import start_generate
from moodlab.music.library import GenerateParams
from moodlab.training import architectures
from moodlab.training.actions import start_training
from moodlab.training.budget import MIN_UPDATES
from moodlab.training.precision import usable_cores
from moodlab.training.presets import TARGET_UPDATES
from moodlab.training.runs import TrainParams, estimated_updates

MARKER = "DEMO-WORKSPACE.txt"
LEAD = "demo-lead"
# Four annotators as the paper had; skill is the chance of voting the picture's own mood.
ANNOTATORS = {"demo-ana": 0.86, "demo-ben": 0.78, "demo-cai": 0.72, "demo-dana": 0.66}
# Images each demo login has left to answer, so that whoever logs in has work: an open
# set of OPEN_PER_ANSWERED times as many images, of which each annotator has answered
# every OPEN_PER_ANSWERED-th (a different one each: none gets near its quorum, so each
# stays in every queue); the lead has the whole open set. At most a quarter of the images.
LEFT_TO_ANSWER = 30
OPEN_PER_ANSWERED = 6
# Printed and shown on the log-in page: a demo of generated data, not a lab.
PASSWORD = "demo-password"  # noqa: S105
# Pictures per mood, photographs first, then generated ones: about a third reach the
# train tier (3 of 4 votes), some 20 a mood; with 8 a mood the deep CNN stayed near 0.5
# whatever its updates.
PER_MOOD = 48  # `moodlab demo --per-mood`
# The slideshow's photographs, held out of the pool: the video shows photographs the
# models never saw. Four flowers in sunlight, which the team labelled Happy.
SLIDESHOW = ("marigold.jpg", "orange-flower.jpg", "yellow-flower.jpg", "seeds-on-flower.jpg")
# The demo's two quick runs; each fills in its snapshot, architecture and epochs. The
# generated pictures carry their mood in colour and coarse texture, which 16 px keeps
# (the deep CNN's CV mean was 0.77 at 32 px, 0.75-0.82 at 16 px, for a quarter of the
# arithmetic); real photos need the paper's 128. The epochs are chosen from the
# snapshot's size so that each fold gets UPDATES[arch] optimizer updates. Batches of 16
# learnt far more per update than batches of 8; at the minimum of 400 the deep CNN
# still underfit on some seeds, at 800 it did not (docs/benchmarks.md, "The demo").
TRAINING = TrainParams(snapshot_id=0, folds=3, epochs=1, batch_size=16, image_size=16, seed=0)
# The architectures the demo trains, the one place that names them: each but the last is
# queued for the second worker, the last trains here (the longest: the second worker
# then takes its folds too); the better test score is activated, a tie going to the
# earlier one here (transfer: its backbone knows photographs, the CNNs learn colour from
# a pool mostly generated; docs/benchmarks.md, "The demo"). Transfer (the
# pretrained backbone's kept features and a small head) is left out, with a line in the
# log, where its wheel is missing. The CNNs work at TRAINING's 16 px, transfer at the
# 224 px its backbone was pretrained at.
ARCHITECTURES = ("transfer", "plain", "deep")
CNNS = ("plain", "deep")  # `moodlab demo --cnn-updates` sets their updates
# Optimizer updates per fold: the CNNs twice their measured minimum; the transfer head
# what the Training form's fitted settings give it (it plateaus well within them).
UPDATES = {"transfer": TARGET_UPDATES, **{arch: 2 * MIN_UPDATES[arch] for arch in CNNS}}
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
    cnn_updates: int | None = None,
    seed: int = 0,
    say: Say = print,
) -> dict:
    """Make the demo workspace in ``root``, which must be missing or empty.

    ``cnn_updates``: optimizer updates per fold for the plain and deep CNNs instead of
    UPDATES' (`moodlab demo --cnn-updates`: a quicker build whose CNNs learn less).
    """
    check_cnn_updates(cnn_updates)
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
        truth, photographs = _images(settings, database, lead, per_mood, say)
        _votes(settings, database, lead, annotators, truth, seed, say)
        _finished(settings, database, music)
        _music_votes(settings, database, annotators, seed)
        snapshot_id = _snapshot(settings, database, lead, say)
        updates = {**UPDATES, **dict.fromkeys(CNNS, cnn_updates)} if cnn_updates else UPDATES
        models = _training(settings, database, lead, snapshot_id, helper, updates, say)
        release()  # it winds down (a second or two, TensorFlow's) while the video is made
        video = _video(root, settings, database, lead, say)
        with database.session() as session:
            waiting = home.images_left_by_person(session=session, settings=settings)
    database.dispose()
    return {
        "dir": str(root),
        "images": len(truth),
        "photos": photographs,
        "snapshot_id": snapshot_id,
        "models": models,
        "video": video["output"],
        "video_mood": video["mood"],
        "video_warnings": video["warnings"],
        "left_to_answer": waiting,
        "lead": LEAD,
        "annotators": list(ANNOTATORS),
        "password": PASSWORD,
        "environment": workspace.environment,
    }


def check_cnn_updates(cnn_updates: int | None) -> None:
    """Refuse a count of CNN updates that is not one (the CLI asks before --reset)."""
    if cnn_updates is not None and cnn_updates < 1:
        raise MoodlabError(f"--cnn-updates {cnn_updates} is not a number of updates (1 or more)")


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
) -> tuple[dict[str, str], int]:
    """Photographs, then generated pictures up to ``per_mood`` a mood, through the import
    job; ({sha256: the mood it was labelled or drawn for}, how many are photographs)."""
    truth = {}
    pool = [photo for photo in photos() if photo.file not in SLIDESHOW]
    chosen = {mood: [p for p in pool if p.mood == mood][:per_mood] for mood in moods.names()}
    with tempfile.TemporaryDirectory(prefix="moodlab-demo-") as folder:
        for photo in (photo for group in chosen.values() for photo in group):
            data = photo.path.read_bytes()
            truth[hashlib.sha256(data).hexdigest()] = photo.mood
            (Path(folder) / f"photo-{photo.file}").write_bytes(data)
        have = {mood: len(group) for mood, group in chosen.items()}
        pictures, reused = kept_pictures(settings, per_mood, have=have)
        for (mood, n), data in pictures.items():
            truth[hashlib.sha256(data).hexdigest()] = mood
            (Path(folder) / f"{mood.lower()}-{n:03d}.jpg").write_bytes(data)
        kept = f"; {reused} made before, kept in {settings.cache_dir}" if reused else ""
        say(
            f"importing {sum(have.values())} photographs and {len(pictures)} generated"
            f" pictures (up to {per_mood} per mood{kept})"
        )
        # Before the import, which queues the features job for whatever has none.
        if restored := restore_features(settings, list(truth)):
            say(f"{restored} images' backbone features kept from an earlier build")
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
    with database.session() as session:
        stored = set(session.scalars(select(Image.sha256).where(Image.sha256.in_(truth))))
    photographs = {sha for sha, mood in truth.items()} - {
        hashlib.sha256(data).hexdigest() for data in pictures.values()
    }
    return {sha: mood for sha, mood in truth.items() if sha in stored}, len(photographs & stored)


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
    past its quorum, none frozen; docs/architecture.md, "Annotation").

    Every image gets all four answers but an open set (LEFT_TO_ANSWER), drawn by the
    seed, where each annotator has answered one image in OPEN_PER_ANSWERED.
    """
    import csv

    from moodlab.votes.csv_votes import CSV_COLUMNS, import_votes

    rng = np.random.default_rng(seed)
    with database.session() as session:  # in the order they were stored, as the seed wants
        stored = [
            sha for sha in session.scalars(select(Image.sha256).order_by(Image.id)) if sha in truth
        ]
    size = min(LEFT_TO_ANSWER * OPEN_PER_ANSWERED // (OPEN_PER_ANSWERED - 1), len(stored) // 4)
    left_open = {sha: n for n, sha in enumerate(rng.permutation(stored)[:size])}
    say(
        f"simulating the votes of {len(annotators)} annotators on {len(stored)} pictures"
        f" ({size} left open, so that every login has images to answer)"
    )
    with tempfile.TemporaryDirectory(prefix="moodlab-demo-votes-") as folder:
        path = Path(folder) / "votes.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for sha in stored:
                ambiguity = rng.beta(1.2, 3)
                for k, (person, skill) in enumerate(
                    zip(annotators, ANNOTATORS.values(), strict=True)
                ):
                    if sha in left_open and left_open[sha] % OPEN_PER_ANSWERED != k:
                        continue
                    vote = simulated_vote(truth[sha], skill, ambiguity, rng)
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


def _music_votes(
    settings: Settings, database: Database, annotators: list[Actor], seed: int
) -> None:
    """The annotators judge each generated track: all for the mood it was made for but at
    most one, who may hear a neighbouring mood in it. Three of four agree on every track,
    so each mood has an accepted track and the demo's video has music that fits."""
    from moodlab.core.models import Track
    from moodlab.music.votes import vote_track

    rng = np.random.default_rng(seed + 1)
    with database.session() as session:
        tracks = session.execute(select(Track.id, Track.intended_mood).order_by(Track.id)).all()
    for track_id, mood in tracks:
        if mood is None:
            continue  # the demo's tracks are all generated, each for a mood
        doubter = int(rng.integers(len(annotators)))
        for k, (person, skill) in enumerate(zip(annotators, ANNOTATORS.values(), strict=True)):
            heard = mood
            if k == doubter and rng.random() > skill:
                heard = str(rng.choice([m.name for m in moods.neighbours(mood)]))
            with database.session() as session:
                vote_track(
                    session=session, actor=person, settings=settings, track_id=track_id, mood=heard
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
    updates: dict[str, int],
    say: Say,
) -> list[int]:
    """A run of each of ARCHITECTURES with ``updates[arch]`` optimizer updates a fold: all
    but the last queued for the second worker, the last here (its folds shared); without
    a second worker each here, one after another.
    The run with the better test score (its CV mean if it has none) is activated, the
    earliest of ARCHITECTURES on a tie."""
    from moodlab.training.registry import activate

    with database.session() as session:
        snapshot = snapshots.get_snapshot(session=session, actor=lead, snapshot_id=snapshot_id)
        images = sum(snapshot.train_counts.values())
    trained = _trainable(say)
    runs = {}
    for arch in trained:
        params = replace(
            TRAINING,
            snapshot_id=snapshot_id,
            arch=arch,
            image_size=architectures.IMAGE_SIZES[arch]
            if arch == "transfer"
            else TRAINING.image_size,
        )
        per_epoch = estimated_updates(images, params)  # with epochs=1
        runs[arch] = replace(params, epochs=max(1, math.ceil(updates[arch] / max(1, per_epoch))))
        steps = estimated_updates(images, runs[arch])
        say(
            f"training {arch} ({params.folds} folds, {runs[arch].epochs} epochs, about {steps}"
            f" updates per fold, {params.image_size} px)"
            + (" on the second worker" * (helper and arch != trained[-1]))
        )
    *queued, here = trained
    job_ids = {
        arch: (
            _queued(start_training, settings, database, lead, runs[arch])
            if helper
            else start_here(
                start_training,
                settings=settings,
                database=database,
                actor=lead,
                params=runs[arch],
                kinds=KINDS,
            ).id
        )
        for arch in queued
    }
    jobs = {
        here: start_here(
            start_training,
            settings=settings,
            database=database,
            actor=lead,
            params=runs[here],
            kinds=KINDS,
        )
    }
    for arch, job_id in job_ids.items():  # done already if it ran here
        jobs[arch] = wait_for(settings, database, job_id, kinds=KINDS, say=lambda line: None)
    made = []
    for arch in trained:
        job = jobs[arch]
        if job.status != JobStatus.SUCCEEDED or job.result is None:
            raise MoodlabError(f"the demo's {arch} training failed: {job.error}")
        made.append(job.result["model_id"])
    if "transfer" in trained:
        with database.session() as session:
            shas = list(session.scalars(select(Image.sha256)))
        keep_features(settings, shas)  # for the next build
    with database.session() as session:
        best = max(made, key=lambda i: _score(session.get_one(TrainedModel, i)))
        # max keeps the first of equal scores. A demo: it activates its better model even
        # if it were near chance.
        activate(session=session, actor=lead, model_id=best, force=True)
    return made


def _trainable(say: Say) -> list[str]:
    """ARCHITECTURES that can train here (transfer needs its backbone's wheel)."""
    missing = architectures.unavailable()
    for arch in ARCHITECTURES:
        if arch in missing:
            say(f"not training {arch}: {missing[arch]}")
    return [arch for arch in ARCHITECTURES if arch not in missing]


def _score(model: TrainedModel) -> float:
    """The test accuracy (the 2-of-4 images no fold trained on), else the CV mean."""
    if model.test_accuracy is not None:
        return model.test_accuracy
    return model.cv_mean or 0.0


def _video(root: Path, settings: Settings, database: Database, lead: Actor, say: Say) -> dict:
    """A slideshow of the SLIDESHOW photographs, made with the active model and the
    library; the video job's result (output, mood, warnings among its keys)."""
    from moodlab.video.actions import start_video
    from moodlab.video.request import VideoParams

    folder = root / "slideshow"
    folder.mkdir()
    inputs = []
    for photo in photos():
        if photo.file in SLIDESHOW:
            path = folder / photo.file
            path.write_bytes(photo.path.read_bytes())
            inputs.append(str(path.resolve()))
    say(f"making a slideshow video of {len(inputs)} photographs with matching music")
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
    return job.result
