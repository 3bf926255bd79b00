"""The ``queue_scores`` job's handler: the registered model scores the waiting images.

Apart from moodlab.training.queue_scores because it loads the model through the
registry, which itself queues this job when a model is activated under the model order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from moodlab.core.config import Settings
from moodlab.core.models import TrainedModel
from moodlab.jobs.context import JobContext
from moodlab.training.queue_scores import QueueScoreParams, score_queue, scoring_model
from moodlab.training.registry import load_registered
from moodlab.training.runs import TrainParams, _probabilities


def model_predictor(settings: Settings, entry: TrainedModel) -> Callable[[list[str]], np.ndarray]:
    """Thumbnail paths -> the registered model's probabilities, as training reads images."""
    model = load_registered(settings, entry)
    params = TrainParams(snapshot_id=entry.snapshot_id or 0, image_size=entry.image_size)

    def predict(paths: list[str]) -> np.ndarray:
        labels = np.zeros(len(paths), dtype=np.int32)
        return _probabilities(model, paths, labels, params, settings)

    return predict


def run_queue_scores(ctx: JobContext, params: QueueScoreParams) -> dict:
    def report(done: int, total: int) -> None:
        ctx.progress(done / max(total, 1), f"{done} of {total} images scored")

    with ctx.database.session() as session:
        entry = scoring_model(session, params.model_id)
        result = score_queue(
            session=session,
            actor=ctx.actor,
            settings=ctx.settings,
            model_id=entry.id,
            predict=model_predictor(ctx.settings, entry),
            on_progress=report,
        )
    ctx.log(f"done: {result.summary()}")
    return asdict(result)
