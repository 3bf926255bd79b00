"""The lead's label review: images whose label a model's out-of-fold predictions dispute.

A cross-validated run keeps each training image's out-of-fold probabilities
(moodlab.datasets.out_of_fold finds the disputed ones and the calibration). Here each
disputed image gets what the lead needs to decide: its votes in the current round
(who voted what; annotators never see this), its label and the model's eight
probabilities, whether it is excluded and which round of votes it is in. The two
decisions are services of their own: ``moodlab.datasets.exclusions`` (leave it out of
new snapshots, or undo that) and ``moodlab.votes.rounds.send_back`` (archive its votes
and put it back in the annotators' queues). It lives with the datasets because what
it decides is the next snapshot (docs/architecture.md, "Label review").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import (
    Image,
    ImageExclusion,
    ImageVote,
    Role,
    TrainedModel,
    User,
    VoteRound,
)
from moodlab.datasets import out_of_fold
from moodlab.datasets.exclusions import exclusions_of
from moodlab.votes.arrays import VersionCache, votes_version
from moodlab.votes.rounds import RoundRecord, find_image, rounds_of


@dataclass(frozen=True)
class Exclusion:
    reason: str
    by: str | None
    at: datetime
    lifted_by: str | None = None
    lifted_at: datetime | None = None


@dataclass(frozen=True)
class Disputed:
    """One image whose label the model confidently disputes, with what the lead decides on."""

    sha256: str
    label: str  # the snapshot's label
    suggested: str  # the likeliest other mood
    p_label: float
    p_suggested: float
    probs: dict[str, float]  # the eight out-of-fold probabilities
    image_id: int | None = None  # None: no such image any more
    votes: list[tuple[str, str]] = field(default_factory=list)  # (annotator, mood or "skip")
    round: int = 1  # the round of votes the image is in now
    excluded: Exclusion | None = None  # the exclusion in force


@dataclass(frozen=True)
class LabelReview:
    model_id: int
    arch: str
    snapshot_id: int | None
    images: int  # training images with out-of-fold probabilities
    ece: float
    reliability: list[dict[str, Any]]
    disputed: list[Disputed]
    note: str | None = None  # what the review cannot judge (moods with one image, or none)


def reviewable_models(*, session: Session, actor: Actor) -> list[TrainedModel]:
    """The models with out-of-fold probabilities (cross-validated runs), newest first."""
    require_role(actor, Role.LEAD, action="review labels")
    # Only the report's out-of-fold entry, not the whole report of every model; the
    # models leave the session, so a later get loads the chosen one whole.
    query = (
        select(TrainedModel, TrainedModel.report["out_of_fold"])
        .options(defer(TrainedModel.report, raiseload=True))
        .order_by(TrainedModel.id.desc())
    )
    models = [model for model, entry in session.execute(query) if entry]
    for model in models:
        session.expunge(model)
    return models


# The review of a model's out-of-fold predictions (cleanlab's issues, each disputed
# image's id), kept per model, out-of-fold file and images: the Datasets page reruns
# with it on every click, and at 20,000 images it cost about a second a rerun. Votes,
# rounds and exclusions are not kept here: ``with_states`` reads them for the images
# shown (a page of them), so a new vote changes nothing kept.
_REVIEWS = VersionCache(size=8)


def label_review(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    model_id: int | None = None,
    states: bool = True,
) -> LabelReview | None:
    """The disputed labels of a model (by default the newest reviewable one), worst first.

    None when no model has out-of-fold probabilities. With ``states`` (the command
    line), every disputed image comes with its current votes, round and exclusion;
    without (the Datasets page), none does: ``with_states`` reads them for the images
    shown. The review itself is computed once per model, out-of-fold file and images.
    """
    require_role(actor, Role.LEAD, action="review labels")
    if model_id is None:
        models = reviewable_models(session=session, actor=actor)
        if not models:
            return None
        model_id = models[0].id
    model_id_: int = model_id
    entry = session.execute(
        select(TrainedModel.id, TrainedModel.report["out_of_fold"]).where(
            TrainedModel.id == model_id_
        )
    ).first()
    if entry is None:
        raise NotFound(f"no trained model with id {model_id_}")
    key = (votes_version(session).images_key, model_id_, _file_key(entry[1], settings))
    found = _REVIEWS.get(key, lambda: _review(session, settings, model_id_))
    if states:
        found = replace(found, disputed=_with_states(session, found.disputed))
    return found


def _file_key(entry: Any, settings: Settings) -> tuple[Any, ...]:
    """What identifies the out-of-fold file a report names: its path, size and time."""
    if not isinstance(entry, dict):
        return (None,)  # rows in the report (models from before the file): never change
    path = settings.data_dir / str(entry.get("file", ""))
    if not path.is_file():
        return (str(path), None)
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _review(session: Session, settings: Settings, model_id: int) -> LabelReview:
    model = session.get(TrainedModel, model_id)
    if model is None:
        raise NotFound(f"no trained model with id {model_id}")
    checked = out_of_fold.review(model.report, settings.data_dir)
    if checked is None:
        raise MoodlabError(
            f"model #{model.id} has no out-of-fold probabilities: train with 2 or more folds"
        )
    issues = checked["issues"]
    ids = dict(
        session.execute(
            select(Image.sha256, Image.id).where(Image.sha256.in_([i["image"] for i in issues]))
        ).all()
    )
    disputed = [
        Disputed(
            issue["image"],
            issue["label"],
            issue["suggested"],
            issue["p_label"],
            issue["p_suggested"],
            issue["probs"],
            image_id=ids.get(issue["image"]),
        )
        for issue in issues
    ]
    return LabelReview(
        model.id,
        model.arch,
        model.snapshot_id,
        checked["images"],
        checked["ece"],
        checked["reliability"],
        disputed,
        checked["note"],
    )


def with_states(*, session: Session, actor: Actor, disputed: Sequence[Disputed]) -> list[Disputed]:
    """The given disputed images (a page of the review) with their current votes, round
    of votes and exclusion in force: three queries over just these images."""
    require_role(actor, Role.LEAD, action="review labels")
    return _with_states(session, disputed)


def _with_states(session: Session, disputed: Sequence[Disputed]) -> list[Disputed]:
    ids = [d.image_id for d in disputed if d.image_id is not None]
    votes, rounds, excluded = _states(session, ids) if ids else ({}, {}, {})
    return [
        replace(
            d,
            votes=votes.get(d.image_id, []),
            round=rounds.get(d.image_id, 0) + 1,
            excluded=excluded.get(d.image_id),
        )
        for d in disputed
    ]


def _states(session: Session, ids: list[int]) -> tuple[dict, dict, dict]:
    """Per image id: its current votes, its closed rounds, its exclusion in force."""
    names = _names(session)
    votes: dict[int, list[tuple[str, str]]] = {}
    rows = session.execute(
        select(ImageVote.image_id, ImageVote.annotator_id, ImageVote.mood)
        .where(ImageVote.image_id.in_(ids))
        .order_by(ImageVote.id)
    )
    for image_id, annotator_id, mood in rows:
        votes.setdefault(image_id, []).append((names.get(annotator_id, "?"), mood or "skip"))
    rounds = dict(
        session.execute(
            select(VoteRound.image_id, func.count())
            .where(VoteRound.image_id.in_(ids))
            .group_by(VoteRound.image_id)
        ).all()
    )
    standing = session.scalars(
        select(ImageExclusion).where(
            ImageExclusion.image_id.in_(ids), ImageExclusion.lifted_at.is_(None)
        )
    )
    excluded = {e.image_id: _exclusion(e, names) for e in standing}
    return votes, rounds, excluded


def _names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.name)).all())


def _exclusion(row: Any, names: dict[int, str]) -> Exclusion:
    return Exclusion(
        row.reason,
        names.get(row.excluded_by_id),
        row.excluded_at,
        names.get(row.lifted_by_id),
        row.lifted_at,
    )


@dataclass(frozen=True)
class History:
    """An image's rounds of votes (closed ones archived, the current one last) and exclusions."""

    image_id: int
    sha256: str
    rounds: list[RoundRecord]
    exclusions: list[Exclusion]

    @property
    def excluded(self) -> bool:
        return any(e.lifted_at is None for e in self.exclusions)


def image_history(*, session: Session, actor: Actor, image: int | str) -> History:
    """Every round of the image's votes and every exclusion, oldest first (lead only)."""
    require_role(actor, Role.LEAD, action="read an image's votes")
    found = find_image(session, image)
    names = _names(session)
    exclusions = [_exclusion(e, names) for e in exclusions_of(session, found.id)]
    rounds = rounds_of(session=session, actor=actor, image_id=found.id)
    return History(found.id, found.sha256, rounds, exclusions)
