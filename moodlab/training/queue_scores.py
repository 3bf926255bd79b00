"""How unsure a model is of each image still waiting for answers: the model order's input.

The lead's model-ordered queue (moodlab.votes.order) serves the images the active
model is least sure of first. The votes area may not import training, so the scores
are computed here, by a job (``queue_scores``, its handler in
moodlab.training.queue_scoring_job, which loads the model), and kept in the ``queue_scores`` table
that the queue reads: one row per waiting image, its uncertainty (1 - the model's top
probability) and its rank among them (0 the least sure). A new scoring replaces the
old one; the queue uses only rows of the active model, so activating another model
falls back to each annotator's own order until that model is scored: activating a
model while the lead's queue follows the model's order queues a new scoring at once
(``rescore_after_activation``, called by moodlab.training.registry.activate). The
scores are never shown to annotators (docs/architecture.md, "Queue order").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Image, Job, QueueScore, Role, TrainedModel
from moodlab.core.storage import ContentStore
from moodlab.core.timeutil import utcnow
from moodlab.images.intake import thumbnail_path
from moodlab.jobs.context import JobParams, JobResult
from moodlab.jobs.queue import enqueue
from moodlab.votes.annotation import waiting
from moodlab.votes.order import MODEL, current_order

BATCH = 512  # images scored between two progress reports and cancel checks


@dataclass
class QueueScoreParams(JobParams):
    """Score the images waiting for answers with a model (the active one by default)."""

    KIND = "queue_scores"
    TITLE = "queue scoring"
    ROLE = Role.LEAD
    model_id: int | None = None

    def validate(self, settings: Settings) -> None:
        if self.model_id is not None and self.model_id < 1:
            raise MoodlabError(f"model id {self.model_id} is not a model's id")


@dataclass(frozen=True)
class QueueScoreResult(JobResult):
    model_id: int | None = None
    scored: int = 0

    def summary(self) -> str:
        return f"{self.scored} images scored by model {self.model_id}"


def start_queue_scoring(
    *, session: Session, actor: Actor, settings: Settings, params: QueueScoreParams
) -> Job:
    """Queue the scoring job; refused, with nothing queued, without a model to score with."""
    require_role(actor, Role.LEAD, action="score images for the queue")
    params.validate(settings)
    scoring_model(session, params.model_id)
    return enqueue(session=session, actor=actor, settings=settings, params=params)


def rescore_after_activation(
    *, session: Session, actor: Actor, settings: Settings | None = None
) -> Job | None:
    """Queue a scoring by the newly active model when the lead chose the model's order;
    None (nothing queued, no settings read) under each annotator's own order, which
    needs no scores."""
    if current_order(session).kind != MODEL:
        return None
    settings = settings or Settings.from_env()
    return enqueue(session=session, actor=actor, settings=settings, params=QueueScoreParams())


def scoring_model(session: Session, model_id: int | None) -> TrainedModel:
    if model_id is None:
        model = session.scalar(select(TrainedModel).where(TrainedModel.active))
        if model is None:
            raise MoodlabError(
                "no model is active: activate one (moodlab models activate ID) to order"
                " the queue by it"
            )
        return model
    model = session.get(TrainedModel, model_id)
    if model is None:
        raise NotFound(f"no model with id {model_id}")
    return model


def ranks(uncertainty: np.ndarray) -> np.ndarray:
    """Each image's place from the least sure (0) to the surest (1); ties by order."""
    places = np.empty(len(uncertainty))
    places[np.argsort(-uncertainty, kind="stable")] = np.arange(len(uncertainty))
    return places / max(len(uncertainty) - 1, 1)


def score_queue(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    predict: Callable[[list[str]], np.ndarray],
    model_id: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> QueueScoreResult:
    """Score every image waiting for answers and replace the kept scores with these.

    ``predict`` maps thumbnail paths to probabilities (rows of 8): the job's is the
    registered model's (moodlab.training.queue_scoring_job).
    """
    require_role(actor, Role.LEAD, action="score images for the queue")
    entry = scoring_model(session, model_id)
    store = ContentStore(settings.data_dir)
    images = session.execute(
        select(Image.id, Image.sha256).where(waiting(settings)).order_by(Image.id)
    ).all()
    uncertainty = np.zeros(len(images))
    for start in range(0, len(images), BATCH):
        chunk = images[start : start + BATCH]
        probs = predict([str(thumbnail_path(store, sha)) for _, sha in chunk])
        uncertainty[start : start + len(chunk)] = 1.0 - np.asarray(probs).max(axis=1)
        if on_progress:
            on_progress(start + len(chunk), len(images))
    session.execute(delete(QueueScore))
    if images:
        now = utcnow()
        session.execute(
            insert(QueueScore),
            [
                {
                    "image_id": image_id,
                    "model_id": entry.id,
                    "uncertainty": float(u),
                    "rank": float(r),
                    "scored_at": now,
                }
                for (image_id, _), u, r in zip(images, uncertainty, ranks(uncertainty), strict=True)
            ],
        )
    return QueueScoreResult(model_id=entry.id, scored=len(images))
