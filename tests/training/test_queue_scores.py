"""Scores for the model-ordered queue: a real Keras model on real thumbnails, by its job."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Image, Job, JobStatus, QueueScore, Role, TrainedModel, User
from moodlab.core.storage import ContentStore
from moodlab.images.intake import Intake, Provenance, thumbnail_path
from moodlab.training.queue_scores import QueueScoreParams, start_queue_scoring
from moodlab.votes import annotation, order
from tests.conftest import add_user, run_cli, run_job
from tests.training.test_training_run import mood_picture

SIZE = 32


def register_model(settings, database) -> int:
    """A small untrained Keras model saved where the registry keeps models, activated."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(len(moods.names()), activation="softmax"),
        ]
    )
    (settings.data_dir / "models").mkdir(parents=True, exist_ok=True)
    model.save(settings.data_dir / "models" / "queue.keras")
    with database.session() as session:
        entry = TrainedModel(
            arch="plain",
            path="models/queue.keras",
            active=True,
            image_size=SIZE,
            cv_scores={},
            report={},
        )
        session.add(entry)
        session.flush()
        return entry.id


def store_images(settings, database) -> list[int]:
    intake = Intake(replace(settings, near_duplicate_distance=0), database)
    ids = [intake.add_bytes(mood_picture(k % 8, k), Provenance(source=f"p{k}")) for k in range(16)]
    assert None not in ids
    return ids


def expected_uncertainty(settings, database) -> dict[int, float]:
    """1 - the top probability, computed here from the model file and the thumbnails."""
    import keras

    model = keras.models.load_model(settings.data_dir / "models" / "queue.keras")
    store = ContentStore(settings.data_dir)
    with database.session() as session:
        rows = session.execute(select(Image.id, Image.sha256)).all()
    pixels = np.stack(
        [
            np.asarray(
                PILImage.open(thumbnail_path(store, sha)).convert("RGB").resize((SIZE, SIZE)),
                dtype=np.float32,
            )
            / 255
            for _, sha in rows
        ]
    )
    probs = model.predict(pixels, verbose=0)
    return {image_id: 1 - float(p.max()) for (image_id, _), p in zip(rows, probs, strict=True)}


def test_the_scoring_job_ranks_waiting_images_and_the_model_order_serves_the_least_sure(
    settings, database, lead
):
    ids = store_images(settings, database)
    anna = add_user(database, "anna", Role.ANNOTATOR)
    with database.session() as session, pytest.raises(MoodlabError, match="no model is active"):
        start_queue_scoring(
            session=session, actor=lead, settings=settings, params=QueueScoreParams()
        )
    model_id = register_model(settings, database)
    job = run_job(settings, database, lead, QueueScoreParams())
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result == {"model_id": model_id, "scored": 16}
    with database.session() as session:
        scores = {s.image_id: s for s in session.scalars(select(QueueScore))}
    assert set(scores) == set(ids)
    expected = expected_uncertainty(settings, database)
    for image_id, kept in scores.items():
        # The pipeline resizes with antialiasing, PIL here with its default: close, not equal.
        assert kept.uncertainty == pytest.approx(expected[image_id], abs=0.02)
    least_sure = max(scores.values(), key=lambda s: s.uncertainty)
    assert least_sure.rank == 0 and max(s.rank for s in scores.values()) == 1
    with database.session() as session:
        order.choose_order(session=session, actor=lead, kind="model", random_share=0.0)
        session.get(User, anna.id).blind_seed = "anna's seed"
    with database.session() as session:
        first = annotation.next_image(session=session, actor=anna, settings=settings)
    assert first.id == least_sure.image_id


def test_votes_order_command_scores_and_chooses(env, settings, database, lead):
    store_images(settings, database)
    shown = run_cli("votes", "order", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["order"] == "own"
    refused = run_cli("votes", "order", "model")
    assert refused.returncode != 0 and "no model is active" in refused.stderr
    register_model(settings, database)
    bad = run_cli("votes", "order", "model", "--random-share", "2")
    assert bad.returncode != 0 and "random share 2.0 is not between 0 and 1" in bad.stderr
    chosen = run_cli("votes", "order", "model", "--random-share", "0.3", "--json")
    assert chosen.returncode == 0, chosen.stderr
    report = json.loads(chosen.stdout)
    assert (report["order"], report["random_share"], report["scored"]) == ("model", 0.3, 16)
    with database.session() as session:
        assert len(session.scalars(select(QueueScore)).all()) == 16


def test_activating_a_model_under_the_model_order_queues_its_scoring(settings, database, lead):
    """The queue reads the active model's scores only: without a new scoring, activating
    another model would quietly hand annotators their own orders again."""
    from moodlab.job_kinds import KINDS
    from moodlab.jobs.worker import JobWorker
    from moodlab.training import registry

    store_images(settings, database)
    first = register_model(settings, database)
    with database.session() as session:
        second = TrainedModel(
            arch="plain", path="models/queue.keras", image_size=SIZE, cv_scores={}, report={}
        )
        session.add(second)
        session.flush()
        second_id = second.id

    def scoring_jobs() -> list[Job]:
        with database.session() as session:
            return list(session.scalars(select(Job).where(Job.kind == "queue_scores")))

    with database.session() as session:  # each annotator's own order needs no scores
        registry.activate(session=session, actor=lead, model_id=second_id, settings=settings)
    assert scoring_jobs() == []
    with database.session() as session:
        order.choose_order(session=session, actor=lead, kind="model")
    with database.session() as session:
        registry.activate(session=session, actor=lead, model_id=first, settings=settings)
    [job] = scoring_jobs()
    assert job.status == JobStatus.QUEUED
    assert JobWorker(settings, database, kinds=KINDS).run(once=True) == 1
    [job] = scoring_jobs()
    assert job.status == JobStatus.SUCCEEDED, job.error
    with database.session() as session:
        assert set(session.scalars(select(QueueScore.model_id))) == {first}
