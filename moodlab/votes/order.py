"""The order images reach each annotator: their own, or the model's, as the lead chose.

Every queue first finishes images that are closest to a decision (most answers), so
complete items accumulate. Within that, each annotator has an order of their own,
stable from one visit to the next and unlike anyone else's: a hash of the image id
keyed by the annotator's secret seed (``users.blind_seed``, the one their music
order comes from). Four annotators therefore start on four different images and never
walk the same sequence (issue 28; docs/architecture.md, "Queue order").

The lead may choose the model's order instead: images the active model is least
sure of first (``queue_scores``, written by training code when a model is scored for
the queue; votes never import training), with a share of places (25% by default)
drawn at random so that the data set does not lean to what the model finds hard.
Each annotator still gets their own order: their hash picks which images take the
random places and breaks near-ties in the model's ranking. The queue returns images
only; no score or prediction ever reaches an annotator (votes stay blind).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Select, case, cast, func, select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Image, QueueOrder, QueueScore, Role, TrainedModel, User
from moodlab.core.models.users import new_blind_seed

OWN = "own"
MODEL = "model"
KINDS = (OWN, MODEL)
RANDOM_SHARE = 0.25  # the model order's places drawn at random: keeps the data set unbiased
# The model's ranking is blurred by this share of the pool per annotator, so that
# annotators of a model-ordered queue do not all start on its single least sure image.
JITTER = 0.05
# A Mersenne prime below 2^31: (id * a + b) mod P and its square stay below 2^62, inside
# the 64-bit integers of SQLite and PostgreSQL (SQLite turns an overflow into a float).
PRIME = 2_147_483_647
# Unanswered images are taken in blocks of this many ids, the blocks in the annotator's
# own order and the images within one in their own order: one short index range and a
# sort of at most this many rows per query, however large the pool.
BLOCK = 1024


@dataclass(frozen=True)
class Shuffle:
    """One annotator's stable hash of image ids: x -> ((x*a + b) mod P)^2 + c mod P.

    The affine step alone sorts ids in near-arithmetic strides; the square scatters them.
    Works on ints and on SQL expressions (the queue sorts by it in the database).
    """

    a: int
    b: int
    c: int

    @classmethod
    def of(cls, seed: str) -> Shuffle:
        digest = hashlib.sha256(f"image order:{seed}".encode()).digest()
        a, b, c = (int.from_bytes(digest[i : i + 8], "big") for i in (0, 8, 16))
        return cls(1 + a % (PRIME - 1), b % PRIME, c % PRIME)

    def key(self, image_id: Any) -> Any:
        """The image's place in the order: an int in [0, P)."""
        spread = (image_id * self.a + self.b) % PRIME
        return (spread * spread + self.c) % PRIME

    def uniform(self, image_id: Any) -> Any:
        """The key as a number in [0, 1)."""
        key = self.key(cast(image_id, BigInteger) if not isinstance(image_id, int) else image_id)
        return cast(key, Float) / PRIME if not isinstance(key, int) else key / PRIME


def annotator_seed(session: Session, actor: Actor) -> str:
    """``actor``'s secret seed (made now for a user row that has none)."""
    user = session.get(User, actor.id) if actor.id is not None else None
    if user is None:
        return f"name:{actor.name}"  # a lead acting without a row (scripts): stable still
    if not user.blind_seed:
        user.blind_seed = new_blind_seed()
        session.flush()
    return user.blind_seed


@dataclass(frozen=True)
class OrderChoice:
    kind: str
    random_share: float
    chosen_by: str | None = None
    chosen_at: datetime | None = None


def current_order(session: Session) -> OrderChoice:
    """The lead's newest choice of queue order; each annotator's own order until one."""
    row = session.execute(
        select(QueueOrder, User.name)
        .outerjoin(User, User.id == QueueOrder.chosen_by_id)
        .order_by(QueueOrder.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return OrderChoice(OWN, RANDOM_SHARE)
    choice, name = row
    return OrderChoice(choice.kind, choice.random_share, name, choice.chosen_at)


def choose_order(
    *, session: Session, actor: Actor, kind: str, random_share: float = RANDOM_SHARE
) -> OrderChoice:
    """Set the queue order for every annotator (lead only); the choice is kept on record."""
    require_role(actor, Role.LEAD, action="choose the queue order")
    if kind not in KINDS:
        raise MoodlabError(f"queue order {kind!r} is not one of: {', '.join(KINDS)}")
    check_share(random_share)
    session.add(QueueOrder(kind=kind, random_share=random_share, chosen_by_id=actor.id))
    session.flush()
    return current_order(session)


@dataclass(frozen=True)
class Scoring:
    """How far the active model has scored the queue (for the lead; never an annotator)."""

    model_id: int | None  # the active model; None: no model is active
    scored: int  # images with a score by it
    scored_at: datetime | None


def active_scoring(session: Session) -> Scoring:
    """The active model and how many images it has scored for the model order."""
    model_id = session.scalar(select(TrainedModel.id).where(TrainedModel.active).limit(1))
    if model_id is None:
        return Scoring(None, 0, None)
    scored, scored_at = session.execute(
        select(func.count(), func.max(QueueScore.scored_at)).where(QueueScore.model_id == model_id)
    ).one()
    return Scoring(model_id, scored, scored_at)


def check_share(random_share: float) -> None:
    if not 0.0 <= random_share <= 1.0:
        raise MoodlabError(
            f"random share {random_share!r} is not between 0 and 1 (0.25: a quarter at random)"
        )


def own_order_ids(session: Session, actor: Actor, query: Select[Any], limit: int) -> list[int]:
    """The first ``limit`` image ids of ``query`` (a select of Image.id) in ``actor``'s own
    order of blocks and of images within each block."""
    shuffle = Shuffle.of(annotator_seed(session, actor))
    highest = session.scalar(select(func.max(Image.id))) or 0
    found: list[int] = []
    for block in sorted(range(highest // BLOCK + 1), key=shuffle.key):
        within = query.where(Image.id.between(block * BLOCK, (block + 1) * BLOCK - 1))
        rows = within.order_by(shuffle.key(cast(Image.id, BigInteger)), Image.id)
        found += session.scalars(rows.limit(limit - len(found)))
        if len(found) >= limit:
            break
    return found


def queue_order_by(session: Session, actor: Actor, choice: OrderChoice) -> list[Any]:
    """ORDER BY terms of ``actor``'s queue under ``choice`` (after most answers first).

    The model order needs ``QueueScore`` outer-joined on the image by the caller.
    """
    shuffle = Shuffle.of(annotator_seed(session, actor))
    u = shuffle.uniform(Image.id)
    if choice.kind != MODEL:
        return [shuffle.key(cast(Image.id, BigInteger)), Image.id]
    share = choice.random_share
    # Scaled so each part spans [0, 1): random places spread evenly through the queue.
    to_random = 1.0 / share if share > 0 else 0.0
    to_jitter = JITTER / (1.0 - share) if share < 1 else 0.0
    place = case(
        (QueueScore.rank.is_(None), u),  # scored after the model's turn: no opinion, random
        (u < share, u * to_random),
        else_=QueueScore.rank * (1.0 - JITTER) + (u - share) * to_jitter,
    )
    return [place, Image.id]
