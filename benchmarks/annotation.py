"""Annotation at lab scale: 100,000 images and 400,000 votes in one SQLite file.

    .venv/bin/python benchmarks/annotation.py [--images 100000] [--votes 400000] [--rounds 300]

Measures, through the service layer (moodlab.votes.annotation), one annotator's
"next image + record a vote" step, p50 and p95 over many rounds, the Annotate page's
"next 40 images" in the annotator's own order and in the lead's model order (every
waiting image scored, moodlab.votes.order) against the old oldest-first query
(``--votes 200000`` leaves 50,000 images unanswered), and the full agreement
statistics (moodlab.votes.agreement). docs/benchmarks.md quotes the output.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moodlab.core import moods  # noqa: E402
from moodlab.core.auth import Actor  # noqa: E402
from moodlab.core.config import Settings  # noqa: E402
from moodlab.core.db import Database  # noqa: E402
from moodlab.core.migrations import upgrade  # noqa: E402
from moodlab.core.models import (  # noqa: E402
    Image,
    ImageVote,
    QueueScore,
    Role,
    TrainedModel,
    User,
)
from moodlab.core.timeutil import utcnow  # noqa: E402
from moodlab.votes import annotation, order  # noqa: E402
from moodlab.votes.agreement import agreement_report  # noqa: E402

ANNOTATORS = 8  # the votes are spread over 8 people, 4 per image
# The queue before each annotator had an order of their own (for comparison): oldest first.
OLDEST_FIRST = text(
    "SELECT id FROM images WHERE response_count < 4 AND frozen_at IS NULL AND NOT EXISTS"
    " (SELECT 1 FROM image_votes v WHERE v.image_id = images.id AND v.annotator_id = :who)"
    " ORDER BY response_count DESC, id LIMIT 40"
)


def fill(database: Database, n_images: int, n_votes: int, seed: int = 0) -> list[int]:
    """Images and votes in bulk: each of the first n_votes/4 images gets 4 votes."""
    rng = np.random.default_rng(seed)
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
                for i in range(ANNOTATORS)
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
                for i in range(1, n_images + 1)
            ],
        )
        user_ids = [row[0] for row in session.execute(text("SELECT id FROM users ORDER BY id"))]
        names = moods.names()
        voted_images = n_votes // 4
        votes = []
        for image_id in range(1, voted_images + 1):
            raters = rng.choice(ANNOTATORS, 4, replace=False)
            base = rng.integers(8)
            for rater in raters:
                mood = base if rng.random() < 0.6 else (base + rng.integers(-1, 2)) % 8
                votes.append(
                    {
                        "image_id": image_id,
                        "annotator_id": user_ids[rater],
                        "mood": names[mood],
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        if not votes:  # --votes 0: every image fresh
            return user_ids
        session.execute(insert(ImageVote), votes)
        # Leave the last 2,000 voted images one vote short, as real queues are.
        session.execute(
            text("DELETE FROM image_votes WHERE image_id > :cut AND annotator_id = :who"),
            {"cut": voted_images - 2000, "who": user_ids[0]},
        )
        session.execute(
            text(
                "UPDATE images SET response_count ="
                " (SELECT count(*) FROM image_votes v WHERE v.image_id = images.id)"
            )
        )
        # The votes of each image's top two moods, as moodlab.votes.annotation keeps them.
        per_mood = text(
            "SELECT image_id, count(*) AS n FROM image_votes WHERE mood IS NOT NULL"
            " GROUP BY image_id, mood"
        )
        tops: dict[int, list[int]] = {}
        for image_id, n in session.execute(per_mood):
            tops.setdefault(image_id, []).append(n)
        session.execute(
            text("UPDATE images SET top_votes = :top, second_votes = :second WHERE id = :id"),
            [
                {"id": i, "top": max(ns), "second": sorted(ns)[-2] if len(ns) > 1 else 0}
                for i, ns in tops.items()
            ],
        )
    return user_ids


def next_40_ms(database: Database, settings: Settings, annotator: Actor) -> float:
    """Milliseconds to the Annotate page's next 40 images of ``annotator``'s queue."""
    t0 = time.perf_counter()
    with database.session() as session:
        annotation.next_images(session=session, actor=annotator, settings=settings, limit=40)
    return (time.perf_counter() - t0) * 1000


def score_every_waiting_image(database: Database, settings: Settings, lead: Actor) -> int:
    """An active model with a random score for every waiting image, the lead's choice of
    the model order (as moodlab.training.queue_scores leaves them); how many it scored."""
    from moodlab.training.queue_scores import ranks

    rng = np.random.default_rng(1)
    with database.session() as session:
        model = TrainedModel(
            arch="plain", path="models/x.keras", active=True, cv_scores={}, report={}
        )
        session.add(model)
        session.flush()
        ids = list(session.scalars(select(Image.id).where(annotation.waiting(settings))))
        uncertainty = rng.random(len(ids)) * 0.875
        now = utcnow()
        session.execute(
            insert(QueueScore),
            [
                {
                    "image_id": i,
                    "model_id": model.id,
                    "uncertainty": float(u),
                    "rank": float(r),
                    "scored_at": now,
                }
                for i, u, r in zip(ids, uncertainty, ranks(uncertainty), strict=True)
            ],
        )
        order.choose_order(session=session, actor=lead, kind=order.MODEL)
    return len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"MOODLAB_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite"})
        database = Database(settings.database_url)
        upgrade(database)
        start = time.perf_counter()
        user_ids = fill(database, args.images, args.votes)
        took = time.perf_counter() - start
        print(f"filled {args.images:,} images and ~{args.votes:,} votes in {took:.1f} s")

        annotator = Actor(id=user_ids[1], name="a1", role=Role.ANNOTATOR)
        names = moods.names()
        steps = []
        for i in range(args.rounds):
            t0 = time.perf_counter()
            with database.session() as session:
                image = annotation.next_image(session=session, actor=annotator, settings=settings)
                annotation.answer(
                    session=session, actor=annotator, image_id=image.id, mood=names[i % 8]
                )
            steps.append((time.perf_counter() - t0) * 1000)
        steps.sort()
        p50, p95 = statistics.median(steps), steps[int(0.95 * len(steps)) - 1]
        print(
            f"next image + record a vote: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({args.rounds} rounds)"
        )

        page, oldest_first = [], []
        for _ in range(20):
            page.append(next_40_ms(database, settings, annotator))
            t0 = time.perf_counter()
            with database.session() as session:
                session.execute(OLDEST_FIRST, {"who": annotator.id}).all()
            oldest_first.append((time.perf_counter() - t0) * 1000)
        print(
            f"the Annotate page's next 40 images: p50 {statistics.median(page):.1f} ms;"
            f" the old oldest-first query: p50 {statistics.median(oldest_first):.1f} ms (20 runs)"
        )

        lead = Actor(id=None, name="bench", role=Role.LEAD)
        scored = score_every_waiting_image(database, settings, lead)
        model_order = [next_40_ms(database, settings, annotator) for _ in range(20)]
        print(
            f"the next 40 in the model order ({scored:,} waiting images scored, 25% at"
            f" random): p50 {statistics.median(model_order):.1f} ms (20 runs)"
        )
        with database.session() as session:
            order.choose_order(session=session, actor=lead, kind=order.OWN)
        start = time.perf_counter()
        with database.session() as session:
            report = agreement_report(session=session, actor=lead, settings=settings)
        seconds = time.perf_counter() - start
        print(
            f"agreement statistics: {seconds:.2f} s for {report['votes']:,} votes"
            f" (alpha {report['krippendorff_alpha']}, circular {report['circular_alpha']},"
            f" kappa {report['fleiss_kappa']})"
        )
        database.dispose()


if __name__ == "__main__":
    main()
