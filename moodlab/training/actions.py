"""Starting a training run (the Training page, `moodlab train`) and the features job."""

from __future__ import annotations

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, Role
from moodlab.datasets.snapshots import get_snapshot
from moodlab.jobs.queue import enqueue
from moodlab.training.budget import data_problem
from moodlab.training.features import FeaturesParams
from moodlab.training.runs import TrainParams


def start_training(
    *, session: Session, actor: Actor, settings: Settings, params: TrainParams
) -> Job:
    """Queue a cross-validated training run on a snapshot; nothing is queued on a bad value.

    Checked here, before anything is queued: the params (folds, sizes, and whether the
    architecture can be built on this machine, in ``TrainParams.validate``) and the
    folds against the snapshot's image count and its smallest mood, with the fix.
    """
    require_role(actor, Role.LEAD, action="start a training run job")
    snapshot = get_snapshot(session=session, actor=actor, snapshot_id=params.snapshot_id)
    params.validate(settings)
    problem = data_problem(snapshot.train_counts, params.folds, params.snapshot_id)
    if problem:
        raise MoodlabError(problem)
    return enqueue(session=session, actor=actor, settings=settings, params=params)


def start_features(
    *, session: Session, actor: Actor, settings: Settings, params: FeaturesParams
) -> Job:
    """Queue the job that keeps the backbone features of every image that has none."""
    require_role(actor, Role.LEAD, action="start an image features job")
    params.validate(settings)
    return enqueue(session=session, actor=actor, settings=settings, params=params)
