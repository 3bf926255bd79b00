"""The lead's exclusions: images left out of every snapshot frozen while they stand.

An exclusion records who, when and why (``image_exclusions``); lifting it (the undo)
records who and when too, and keeps the row, so an image's history shows both.
Snapshot plans and freezing leave excluded images out (moodlab.datasets.snapshots);
snapshots frozen before keep them. Excluding or lifting changes the votes version
(moodlab.votes.arrays), so cached plans recompute. Lead only, checked here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.errors import MoodlabError
from moodlab.core.models import ImageExclusion, Role
from moodlab.core.timeutil import utcnow
from moodlab.votes.rounds import find_image


def standing(session: Session, image_id: int) -> ImageExclusion | None:
    """The image's exclusion in force, if any."""
    return session.scalar(
        select(ImageExclusion).where(
            ImageExclusion.image_id == image_id, ImageExclusion.lifted_at.is_(None)
        )
    )


def excluded_ids(session: Session) -> set[int]:
    """Every image excluded now."""
    query = select(ImageExclusion.image_id).where(ImageExclusion.lifted_at.is_(None))
    return set(session.scalars(query))


def exclude(*, session: Session, actor: Actor, image: int | str, reason: str) -> ImageExclusion:
    """Leave the image (its id or sha256) out of new snapshots until the exclusion is lifted."""
    require_role(actor, Role.LEAD, action="exclude images from datasets")
    found = find_image(session, image, lock=True)
    reason = reason.strip()
    if not reason:
        raise MoodlabError(f"say why image {found.id} is left out of new snapshots (a reason)")
    if (already := standing(session, found.id)) is not None:
        raise MoodlabError(
            f"image {found.id} is already excluded (since {already.excluded_at:%Y-%m-%d %H:%M}"
            f" UTC: {already.reason})"
        )
    exclusion = ImageExclusion(
        image_id=found.id, reason=reason, excluded_by_id=actor.id, excluded_at=utcnow()
    )
    session.add(exclusion)
    session.flush()
    return exclusion


def include(*, session: Session, actor: Actor, image: int | str) -> ImageExclusion:
    """Lift the image's exclusion (the undo): new snapshots may take it again."""
    require_role(actor, Role.LEAD, action="exclude images from datasets")
    found = find_image(session, image, lock=True)
    exclusion = standing(session, found.id)
    if exclusion is None:
        raise MoodlabError(f"image {found.id} is not excluded: nothing to undo")
    exclusion.lifted_by_id, exclusion.lifted_at = actor.id, utcnow()
    session.flush()
    return exclusion


def exclusions_of(session: Session, image_id: int) -> list[ImageExclusion]:
    """The image's exclusions, made and lifted, oldest first."""
    query = select(ImageExclusion).where(ImageExclusion.image_id == image_id)
    return list(session.scalars(query.order_by(ImageExclusion.id)))
