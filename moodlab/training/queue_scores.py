"""How unsure a model is of each image still waiting for answers: the model order's input.

The lead's model-ordered queue (moodlab.votes.order) serves the images the active
model is least sure of first. The votes area may not import training, so the scores
are computed here, by a job (``queue_scores``), and kept in the ``queue_scores`` table
that the queue reads: one row per waiting image, its uncertainty (1 - the model's top
probability) and its rank among them (0 the least sure). A new scoring replaces the
old one; the queue uses only rows of the active model, so activating another model
falls back to each annotator's own order until that model is scored. The scores are
never shown to annotators (docs/architecture.md, "Queue order").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

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
from moodlab.jobs.context import JobContext, JobParams, JobResult
from moodlab.jobs.queue import enqueue
from moodlab.training.runs import TrainParams, _probabilities
from moodlab.votes.annotation import waiting

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
    model_id: int | None = None,
    predict: Callable[[list[str]], np.ndarray] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> QueueScoreResult:
    """Score every image waiting for answers and replace the kept scores with these.

    ``predict`` maps thumbnail paths to probabilities (rows of 8); the registered model
    by default.
    """
    require_role(actor, Role.LEAD, action="score images for the queue")
    entry = scoring_model(session, model_id)
    if predict is None:
        predict = _model_predictor(settings, entry)
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


def _model_predictor(settings: Settings, entry: TrainedModel) -> Callable[[list[str]], np.ndarray]:
    from moodlab.training.registry import load_registered

    model = load_registered(settings, entry)
    params = TrainParams(snapshot_id=entry.snapshot_id or 0, image_size=entry.image_size)

    def predict(paths: list[str]) -> np.ndarray:
        return _probabilities(model, paths, np.zeros(len(paths), dtype=np.int32), params)

    return predict


def run_queue_scores(ctx: JobContext, params: QueueScoreParams) -> dict:
    def report(done: int, total: int) -> None:
        ctx.progress(done / max(total, 1), f"{done} of {total} images scored")

    with ctx.database.session() as session:
        result = score_queue(
            session=session,
            actor=ctx.actor,
            settings=ctx.settings,
            model_id=params.model_id,
            on_progress=report,
        )
    ctx.log(f"done: {result.summary()}")
    return asdict(result)
