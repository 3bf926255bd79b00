"""The model registry: trained models, the one active for videos, loading, evaluation."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Role, TrainedModel
from moodlab.training import fine_tune
from moodlab.training.precision import apply_policy, choose_policy
from moodlab.training.queue_scores import rescore_after_activation
from moodlab.training.runs import TrainParams, _predict, _split, evaluate


class NearChance(MoodlabError):
    """Activating a model whose test accuracy is not clearly above chance, unconfirmed."""


def wilson_lower_bound(successes: int, trials: int, z: float = 1.96) -> float:
    """The Wilson score interval's lower end (95% for z = 1.96) for a binomial proportion."""
    if trials <= 0:
        return 0.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, (centre - margin) / (1 + z * z / trials))


def chance_check(model: TrainedModel) -> tuple[bool | None, str | None]:
    """Whether the model's test accuracy is clearly above chance (1/8): the Wilson 95%
    lower bound of its test accuracy above chance. None (and no note) without a test set.
    """
    test = (model.report or {}).get("test") or {}
    matrix = test.get("confusion_matrix")
    if model.test_accuracy is None or not matrix:
        return None, None
    trials = int(sum(sum(row) for row in matrix))
    correct = int(sum(matrix[i][i] for i in range(len(matrix))))
    chance = 1 / len(moods.names())
    lower = wilson_lower_bound(correct, trials)
    if lower > chance:
        return True, None
    return False, (
        f"model {model.id}'s test accuracy, {correct} of {trials} ({correct / trials:.0%}),"
        f" is not clearly above chance ({chance:.1%}, 1 in {len(moods.names())}): its 95%"
        f" lower bound is {lower:.1%}, so its videos' moods would be close to guesses"
    )


# The parts of a model's report that listings show (the Training page's table and its
# comparison, the chance check, `moodlab models list`). The rest (per-fold curves, the
# final curve) is for one model at a time: get_model.
LISTED_PARTS = ("test", "updates", "settings")


def list_models(*, session: Session, actor: Actor) -> list[TrainedModel]:
    """Every registered model, newest first: the lead manages them, anyone picks one for a
    video. Each model's ``report`` holds only ``LISTED_PARTS``, read from the database
    alone (a whole report per model on every rerun grew with the data); the models are
    detached, so a later ``get_model`` in the same session loads one whole."""
    require_role(actor, Role.LEAD, Role.ANNOTATOR, action="list models")
    query = (
        select(TrainedModel, *(TrainedModel.report[part] for part in LISTED_PARTS))
        .options(defer(TrainedModel.report, raiseload=True))
        .order_by(TrainedModel.id.desc())
    )
    models = []
    for model, *parts in session.execute(query):
        listed = {name: part for name, part in zip(LISTED_PARTS, parts, strict=True) if part}
        set_committed_value(model, "report", listed)
        session.expunge(model)
        models.append(model)
    return models


def get_model(*, session: Session, actor: Actor, model_id: int) -> TrainedModel:
    """One registered model, its whole report included."""
    require_role(actor, Role.LEAD, Role.ANNOTATOR, action="see models")
    model = session.get(TrainedModel, model_id)
    if model is None:
        raise NotFound(f"no model with id {model_id}")
    return model


def activate(
    *,
    session: Session,
    actor: Actor,
    model_id: int,
    force: bool = False,
    settings: Settings | None = None,
) -> TrainedModel:
    """Make ``model_id`` the model videos use. A model not clearly above chance raises
    NearChance (the reason) unless ``force``: the page asks, the CLI wants --force.

    Under the lead's model-ordered queue, a job that scores the waiting images with it
    is queued too (moodlab.training.queue_scores): the queue reads the active model's
    scores only, so without it annotators would get their own orders until a rescoring.
    """
    require_role(actor, Role.LEAD, action="activate models")
    model = session.get(TrainedModel, model_id)
    if model is None:
        raise NotFound(f"no model with id {model_id}")
    above, note = chance_check(model)
    if above is False and not force:
        raise NearChance(note or "")
    session.execute(update(TrainedModel).values(active=False))
    model.active = True
    session.flush()
    rescore_after_activation(session=session, actor=actor, settings=settings)
    return model


def load_registered(settings: Settings, entry: TrainedModel):
    """A registered model ready to predict, under the dtype policy training uses."""
    import keras

    apply_policy(choose_policy(settings.precision, settings.training_threads))
    path = settings.data_dir / entry.path
    if not path.exists():
        raise MoodlabError(f"model {entry.id}: its file {path} is missing")
    return keras.models.load_model(path, compile=False)


def evaluate_model(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    database: Database,
    model_id: int,
    snapshot_id: int | None = None,
) -> dict[str, Any]:
    """Any registered model on any snapshot's test split (its own snapshot by default)."""
    require_role(actor, Role.LEAD, action="evaluate models")
    entry = session.get(TrainedModel, model_id)
    if entry is None:
        raise NotFound(f"no model with id {model_id}")
    snapshot_id = snapshot_id or entry.snapshot_id
    if snapshot_id is None:
        raise MoodlabError(f"model {model_id} has no snapshot: name one with --dataset")
    paths, labels = _split(settings, snapshot_id, "test", database, actor)
    if not paths:
        raise MoodlabError(f"snapshot {snapshot_id} has no test images")
    model = load_registered(settings, entry)
    # A fine-tuned transfer model scores images, not the kept features of the pretrained
    # backbone it no longer is (moodlab.training.fine_tune).
    params = TrainParams(
        snapshot_id=snapshot_id,
        arch=entry.arch,
        image_size=entry.image_size,
        fine_tune_blocks=fine_tune.blocks_in(entry.report),
    )
    metrics = evaluate(_predict(model, paths, labels, params, settings), labels)
    return {
        "model_id": model_id,
        "snapshot_id": snapshot_id,
        "images": len(paths),
        "moods": moods.names(),
        **metrics,
    }
