"""Votes spent where they change something: the paper's fixed order, early stop, model order.

    .venv/bin/python benchmarks/annotation_effort.py [--per-mood 60] [--test-per-mood 25]
        [--every 64] [--random-share 0.25] [--seed 0]

Four simulated annotators with known confusion (moodlab.demo_data.simulated_vote: right
with their skill, else mostly a neighbouring mood, sometimes another, 2% skips) answer
the demo's generated pictures, whose true moods are known. Three ways to spend votes:

- fixed: the paper's protocol, every image gets all four answers, images in order;
- early stop: moodlab's queue (a real SQLite database, moodlab.votes.annotation), each
  annotator their own order, an image leaving every queue once its answers decide it;
- model order: the same, with the lead's model order (moodlab.votes.order): a model
  retrained on the train tier every ``--every`` answers scores the waiting images
  through moodlab.training.queue_scores, least sure first, ``--random-share`` at random.

Each annotator gives the same answer to the same image under every policy. The model is
a logistic regression on colour and texture features of the pictures (a stand-in for
the CNN that trains in milliseconds); it is retrained on the train tier (3 of 4 agree)
every ``--every`` answers and scored on held-out pictures against their true moods.
Prints, per policy, the answers spent, the train-tier images they gave, answers per
train image, the accuracy after all answers and the answers needed to reach the fixed
order's final accuracy; checks that early stop changed no tier. docs/benchmarks.md
quotes the output ("Annotation effort").
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moodlab.core import moods  # noqa: E402
from moodlab.core.auth import Actor  # noqa: E402
from moodlab.core.config import Settings  # noqa: E402
from moodlab.core.db import Database  # noqa: E402
from moodlab.core.migrations import upgrade  # noqa: E402
from moodlab.core.models import Image, Role, TrainedModel, User  # noqa: E402
from moodlab.core.timeutil import utcnow  # noqa: E402
from moodlab.demo_data import picture, simulated_vote  # noqa: E402
from moodlab.training.queue_scores import score_queue  # noqa: E402
from moodlab.votes import annotation, order  # noqa: E402
from moodlab.votes.quorum import decide_many, tally_indexes  # noqa: E402

SKILLS = (0.85, 0.8, 0.75, 0.7)  # each annotator's chance of the true mood (less ambiguity)
PICTURE = (96, 72)  # small: features need no more, and 680 pictures take ~15 s to make
SKIP = -1


def features(content: bytes) -> np.ndarray:
    """Mean hue (as a saturation-weighted vector), saturation, value and edge energy."""
    from PIL import Image as PILImage

    hsv = np.asarray(
        PILImage.open(io.BytesIO(content)).convert("RGB").resize((32, 24)).convert("HSV"),
        dtype=np.float32,
    )
    hue, sat, val = (hsv[..., c] / 255 for c in range(3))
    angle = 2 * np.pi * hue
    edges = np.abs(np.diff(val, axis=1)).mean()
    return np.array(
        [
            np.cos(angle).mean() * sat.mean(),
            np.sin(angle).mean() * sat.mean(),
            sat.mean(),
            val.mean(),
            edges,
        ]
    )


@dataclass
class Data:
    pool: np.ndarray  # features of the pictures to annotate
    truth: np.ndarray  # their true mood index
    answers: np.ndarray  # (annotators, pool): each annotator's answer, SKIP for a skip
    test: np.ndarray
    test_truth: np.ndarray


def make_pictures(per_mood: int, test_per_mood: int) -> tuple[np.ndarray, ...]:
    """Features and true moods of the pictures to annotate and of the held-out ones."""
    pool, truth, test, test_truth = [], [], [], []
    for k, mood in enumerate(moods.names()):
        for n in range(per_mood + test_per_mood):
            row = features(picture(mood, n, PICTURE))
            (pool if n < per_mood else test).append(row)
            (truth if n < per_mood else test_truth).append(k)
    return np.array(pool), np.array(truth), np.array(test), np.array(test_truth)


def make_data(pictures: tuple[np.ndarray, ...], seed: int) -> Data:
    """The pool in a seeded order (as a crawl gives it, not by mood) and the answers."""
    names = moods.names()
    pool, truth, test, test_truth = pictures
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(pool))
    pool_x, pool_y = pool[shuffled], truth[shuffled]
    ambiguity = rng.uniform(0, 0.6, len(pool_y))
    answers = np.array(
        [
            [
                SKIP if (a := simulated_vote(names[m], skill, amb, rng)) is None else names.index(a)
                for m, amb in zip(pool_y, ambiguity, strict=True)
            ]
            for skill in SKILLS
        ]
    )
    return Data(pool_x, pool_y, answers, test, test_truth)


def fit(data: Data, images: np.ndarray, labels: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(labels.tolist())) < 2:
        return None
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return model.fit(data.pool[images], labels)


def accuracy(data: Data, model) -> float:
    return (
        1 / len(moods.names()) if model is None else float(model.score(data.test, data.test_truth))
    )


@dataclass
class Run:
    name: str
    curve: list[tuple[int, int, float]] = field(default_factory=list)  # answers, train, accuracy
    tiers: np.ndarray | None = None
    labels: np.ndarray | None = None
    seconds: float = 0.0


def train_tier(
    settings: Settings, given: list[tuple[int, int]], n_images: int
) -> tuple[np.ndarray, np.ndarray]:
    """Tiers and labels of every pool image (by index) from (image index, answer) pairs."""
    image_ids = np.array([i for i, _ in given] + list(range(n_images)), dtype=np.int64)
    mood_idx = np.array([a for _, a in given] + [SKIP] * n_images, dtype=np.int64)
    counted = tally_indexes(image_ids, mood_idx)
    answers = counted.answers - 1  # the padding skip per image is no answer
    return decide_many(counted.counts, answers, settings)


def checkpoint(run: Run, settings: Settings, data: Data, given: list[tuple[int, int]]):
    tiers, labels = train_tier(settings, given, len(data.truth))
    train = np.flatnonzero(tiers == 0)
    model = fit(data, train, labels[train])
    run.curve.append((len(given), len(train), accuracy(data, model)))
    return model


def fixed_order(settings: Settings, data: Data, every: int) -> Run:
    run, given = Run("fixed (the paper: 4 answers each)"), []
    start = time.perf_counter()
    for image in range(len(data.truth)):
        for person in range(len(SKILLS)):
            given.append((image, int(data.answers[person, image])))
            if len(given) % every == 0:
                checkpoint(run, settings, data, given)
    checkpoint(run, settings, data, given)
    run.tiers, run.labels = train_tier(settings, given, len(data.truth))
    run.seconds = time.perf_counter() - start
    return run


def queued(
    settings: Settings, data: Data, every: int, share: float | None, workdir: Path, seed: int
) -> Run:
    """Answers through moodlab's own queue; ``share`` None: own order, else model order."""
    run = Run("early stop" if share is None else f"model order ({share:.0%} at random)")
    file = workdir / f"{'own' if share is None else 'model'}-{seed}.sqlite"
    database = Database(f"sqlite:///{file}")
    upgrade(database)
    now = utcnow()
    with database.session() as session:
        rows = [(f"a{n}", Role.ANNOTATOR) for n in range(len(SKILLS))] + [("lead", Role.LEAD)]
        session.execute(
            insert(User),
            [
                {
                    "name": name,
                    "role": role,
                    "password_hash": "-",
                    "blind_seed": f"seed {seed} {name}",
                }
                for name, role in rows
            ],
        )
        users = {u.name: u for u in session.query(User)}
        actors = [Actor(id=users[name].id, name=name, role=role) for name, role in rows[:-1]]
        lead = Actor(id=users["lead"].id, name="lead", role=Role.LEAD)
        session.execute(
            insert(Image),
            [
                {"sha256": f"{i + 1:064x}", "width": 96, "height": 72, "created_at": now}
                for i in range(len(data.truth))
            ],
        )
        if share is not None:
            session.add(TrainedModel(arch="logreg", path="-", active=True, cv_scores={}, report={}))
            order.choose_order(session=session, actor=lead, kind="model", random_share=share)
    given: list[tuple[int, int]] = []
    done = [False] * len(actors)
    start = time.perf_counter()
    while not all(done):
        for n, person in enumerate(actors):
            if done[n]:
                continue
            with database.session() as session:
                image = annotation.next_image(session=session, actor=person, settings=settings)
                if image is None:
                    done[n] = True
                    continue
                index = image.id - 1
                mood = int(data.answers[n, index])
                annotation.answer(
                    session=session,
                    actor=person,
                    image_id=image.id,
                    mood=None if mood == SKIP else moods.names()[mood],
                    settings=settings,
                )
            given.append((index, mood))
            if len(given) % every == 0:
                model = checkpoint(run, settings, data, given)
                if share is not None and model is not None:
                    rescore(database, settings, lead, data, model)
    checkpoint(run, settings, data, given)
    run.tiers, run.labels = train_tier(settings, given, len(data.truth))
    run.seconds = time.perf_counter() - start
    database.dispose()
    return run


def rescore(database: Database, settings: Settings, lead: Actor, data: Data, model) -> None:
    """The training side's turn: score the waiting images with the current model."""

    def predict(paths: list[str]) -> np.ndarray:
        rows = [int(Path(p).stem, 16) - 1 for p in paths]  # thumbnails are named by sha256
        probs = np.zeros((len(rows), len(moods.names())))
        probs[:, model.classes_] = model.predict_proba(data.pool[rows])  # moods it has seen
        return probs

    with database.session() as session:
        score_queue(session=session, actor=lead, settings=settings, predict=predict)


def answers_to_reach(run: Run, target: float) -> int | None:
    return next((spent for spent, _, acc in run.curve if acc >= target), None)


def report(runs: list[Run]) -> tuple[int, list[int | None]]:
    """Print one seed's table; the fixed order's answers and each policy's to reach it."""
    fixed = runs[0]
    total, _, target = fixed.curve[-1]
    print(f"the fixed order's accuracy after all {total} answers: {target:.3f}")
    print(
        "policy | answers | train images | answers per train image | accuracy at the end |"
        " answers to first reach the fixed order's final accuracy"
    )
    reached = []
    for run in runs:
        spent, train, acc = run.curve[-1]
        reach = answers_to_reach(run, target)
        reached.append(reach)
        saving = "" if reach is None else f" ({1 - reach / total:.0%} fewer than {total})"
        print(
            f"{run.name} | {spent} | {train} | {spent / max(train, 1):.2f} | {acc:.3f} |"
            f" {reach if reach is not None else 'not reached'}{saving}"
        )
    for run in runs[1:]:
        changed = int(((run.tiers != fixed.tiers) | (run.labels != fixed.labels)).sum())
        print(f"{run.name}: images whose tier or label differs from all four answers': {changed}")
    saved = total - runs[1].curve[-1][0]
    print(f"early stop saved {saved} of {total} answers ({saved / total:.1%})")
    print("curves (answers: accuracy):")
    for run in runs:
        step = max(1, len(run.curve) // 10)
        points = ", ".join(f"{spent}: {acc:.2f}" for spent, _, acc in run.curve[::step])
        print(f"  {run.name}: {points}")
    return total, reached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-mood", type=int, default=60)
    parser.add_argument("--test-per-mood", type=int, default=25)
    parser.add_argument("--every", type=int, default=64)
    parser.add_argument("--random-share", type=float, default=order.RANDOM_SHARE)
    parser.add_argument("--seeds", type=int, default=3, help="runs, each with other answers")
    args = parser.parse_args()
    start = time.perf_counter()
    pictures = make_pictures(args.per_mood, args.test_per_mood)
    print(
        f"{len(pictures[1])} pictures to annotate, {len(pictures[3])} held out;"
        f" annotators' skills {SKILLS}; made in {time.perf_counter() - start:.1f} s"
    )
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"MOODLAB_DATABASE_URL": f"sqlite:///{tmp}/unused.sqlite"})
        for seed in range(args.seeds):
            data = make_data(pictures, seed)
            runs = [
                fixed_order(settings, data, args.every),
                queued(settings, data, args.every, None, Path(tmp), seed),
                queued(settings, data, args.every, args.random_share, Path(tmp), seed),
            ]
            print(f"\nseed {seed}")
            total, reached = report(runs)
            summary.append(
                (total, reached, [r.curve[-1][0] / max(r.curve[-1][1], 1) for r in runs])
            )
    print(
        "\nover the seeds: policy | answers per train image"
        " | answers to reach the fixed order's final accuracy"
    )
    for n, run in enumerate(runs):
        per_train = np.mean([s[2][n] for s in summary])
        reach = [s[1][n] for s in summary]
        shown = ", ".join(
            "not reached" if r is None else f"{r} ({1 - r / s[0]:.0%} fewer)"
            for r, s in zip(reach, summary, strict=True)
        )
        print(f"{run.name} | {per_train:.2f} | {shown}")
    print(f"\ntook {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
