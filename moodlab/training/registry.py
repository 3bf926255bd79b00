"""The model registry: trained models, the one active for videos, loading, evaluation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Role, TrainedModel
from moodlab.training.precision import apply_policy, choose_policy
from moodlab.training.runs import TrainParams, _predict, _split, evaluate


def list_models(*, session: Session, actor: Actor) -> list[TrainedModel]:
    """Every registered model: the lead manages them, anyone picks one for a video."""
    require_role(actor, Role.LEAD, Role.ANNOTATOR, action="list models")
    return list(session.scalars(select(TrainedModel).order_by(TrainedModel.id.desc())))


def activate(*, session: Session, actor: Actor, model_id: int) -> TrainedModel:
    require_role(actor, Role.LEAD, action="activate models")
    model = session.get(TrainedModel, model_id)
    if model is None:
        raise NotFound(f"no model with id {model_id}")
    session.execute(update(TrainedModel).values(active=False))
    model.active = True
    return model


def load_registered(settings: Settings, entry: TrainedModel):
    """A registered model ready to predict, under the dtype policy training uses."""
    import keras

    apply_policy(choose_policy(settings.precision))
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
    params = TrainParams(snapshot_id=snapshot_id, arch=entry.arch, image_size=entry.image_size)
    metrics = evaluate(_predict(model, paths, labels, params), labels)
    return {"model_id": model_id, "snapshot_id": snapshot_id, "images": len(paths),
            "moods": moods.names(), **metrics}  # fmt: skip
