"""A snapshot's labels as a paper cites them: each image's provenance, the votes behind
its label with who gave them and when, and what balancing moved.

The rows are plain dicts in a fixed column order, written by ``moodlab.datasets.export``
as CSV and JSON and summed up by ``moodlab.datasets.datasheet``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moodlab.core.models import (
    ArchivedVote,
    Image,
    ImageVote,
    Job,
    Snapshot,
    SnapshotMember,
    User,
    VoteRound,
)

_IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's bound on parameters

# The labels file's columns, in order; the JSON uses the same names.
LABEL_COLUMNS = (
    "sha256",
    "image_id",
    "label",
    "split",
    "tier",
    "votes",
    "unanimous",
    "moved_by_balancing",
    "path",
    "source_url",
    "original_name",
    "page_url",
    "alt_text",
    "license",
    "attribution",
    "job_id",
    "job_kind",
    "added_at",
)


@dataclass(frozen=True)
class VoteRow:
    """One vote (or skip) behind a snapshot label, from the round the snapshot froze."""

    sha256: str
    annotator: str | None  # None: the annotator's account was deleted
    mood: str | None  # None: a skip
    round: int
    voted_at: datetime
    changed_at: datetime
    ballot: ImageVote | ArchivedVote  # the row itself, for a column read straight from it


# The votes file's columns and how each is read from a vote: one more column is one more
# line here.
VOTE_COLUMNS: tuple[tuple[str, Callable[[VoteRow], Any]], ...] = (
    ("sha256", lambda v: v.sha256),
    ("annotator", lambda v: v.annotator or ""),
    ("mood", lambda v: v.mood or "skip"),
    ("round", lambda v: v.round),
    ("voted_at", lambda v: iso(v.voted_at)),
    ("changed_at", lambda v: iso(v.changed_at)),
    # The guidelines version the answer was given under (moodlab/votes/guidelines.py):
    # empty for answers from before versions were kept, and imported ones.
    ("guidelines_version", lambda v: v.ballot.guidelines_version or ""),
)


def iso(moment: datetime | None) -> str:
    """UTC as ISO 8601 with its offset; the database keeps naive UTC."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def member_path(member: SnapshotMember) -> str:
    """Where a member lies in the ImageFolder zip."""
    return f"{member.split}/{member.label}/{member.sha256}.jpg"


def is_unanimous(member: SnapshotMember, annotators: int) -> bool:
    return int(member.votes.get(member.label, 0)) >= annotators


def moved_by_balancing(member: SnapshotMember) -> bool:
    """A train-tier image the per-mood cap left out of training, so it went to test."""
    return member.tier == "train" and member.split == "test"


def label_rows(
    session: Session, snapshot: Snapshot, members: Sequence[SnapshotMember]
) -> Iterator[dict[str, Any]]:
    """One dict per member in ``LABEL_COLUMNS`` order: its label, why, and where it came from."""
    annotators = int(snapshot.rules.get("annotators_per_item", 4))
    for chunk in _chunks(members):
        images = {
            image.id: (image, kind)
            for image, kind in session.execute(
                select(Image, Job.kind)
                .outerjoin(Job, Job.id == Image.job_id)
                .where(Image.id.in_([m.image_id for m in chunk]))
            ).all()
        }
        for member in chunk:
            image, kind = images[member.image_id]
            yield {
                "sha256": member.sha256,
                "image_id": member.image_id,
                "label": member.label,
                "split": member.split,
                "tier": member.tier,
                "votes": dict(sorted(member.votes.items())),
                "unanimous": is_unanimous(member, annotators),
                "moved_by_balancing": moved_by_balancing(member),
                "path": member_path(member),
                "source_url": image.source_url,
                "original_name": image.original_name,
                "page_url": image.page_url,
                "alt_text": image.alt_text,
                "license": image.license,
                "attribution": image.attribution,
                "job_id": image.job_id,
                "job_kind": kind,
                "added_at": iso(image.created_at),
            }


def vote_rows(
    session: Session, snapshot: Snapshot, members: Sequence[SnapshotMember]
) -> Iterator[VoteRow]:
    """The votes each member was frozen with, by annotator and time.

    An image sent back after this snapshot froze has those votes archived: they are
    read from the first round closed after the snapshot (``snapshot_horizon`` at or past
    its id); the others' are still the current votes.
    """
    for chunk in _chunks(members):
        sha_of = {m.image_id: m.sha256 for m in chunk}
        ids = list(sha_of)
        closed = dict(
            session.execute(
                select(VoteRound.image_id, func.min(VoteRound.round))
                .where(VoteRound.image_id.in_(ids), VoteRound.snapshot_horizon >= snapshot.id)
                .group_by(VoteRound.image_id)
            ).all()
        )
        archived = session.execute(
            select(ArchivedVote, VoteRound.round, User.name)
            .join(VoteRound, VoteRound.id == ArchivedVote.round_id)
            .outerjoin(User, User.id == ArchivedVote.annotator_id)
            .where(ArchivedVote.image_id.in_(list(closed)))
            .order_by(ArchivedVote.image_id, ArchivedVote.created_at, ArchivedVote.id)
        ).all()
        for vote, round_, name in archived:
            if closed[vote.image_id] == round_:
                yield VoteRow(
                    sha_of[vote.image_id],
                    name,
                    vote.mood,
                    round_,
                    vote.created_at,
                    vote.updated_at,
                    vote,
                )
        current = [i for i in ids if i not in closed]
        rounds_closed = dict(
            session.execute(
                select(VoteRound.image_id, func.max(VoteRound.round))
                .where(VoteRound.image_id.in_(current))
                .group_by(VoteRound.image_id)
            ).all()
        )
        for ballot, name in session.execute(
            select(ImageVote, User.name)
            .outerjoin(User, User.id == ImageVote.annotator_id)
            .where(ImageVote.image_id.in_(current))
            .order_by(ImageVote.image_id, ImageVote.created_at, ImageVote.id)
        ).all():
            round_ = rounds_closed.get(ballot.image_id, 0) + 1
            yield VoteRow(
                sha_of[ballot.image_id],
                name,
                ballot.mood,
                round_,
                ballot.created_at,
                ballot.updated_at,
                ballot,
            )


def vote_record(vote: VoteRow) -> dict[str, Any]:
    return {name: read(vote) for name, read in VOTE_COLUMNS}


@dataclass(frozen=True)
class Balancing:
    """What the per-mood cap did: train-tier images sent to test, and the unanimous ones."""

    cap_used: int | None
    moved_to_test: dict[str, int]  # per mood
    unanimous_in_test: dict[str, int]  # per mood: every annotator agreed, yet not trained on

    def as_dict(self) -> dict[str, Any]:
        return {
            "cap_used": self.cap_used,
            "moved_to_test": self.moved_to_test,
            "moved_to_test_total": sum(self.moved_to_test.values()),
            "unanimous_in_test": self.unanimous_in_test,
            "unanimous_in_test_total": sum(self.unanimous_in_test.values()),
        }


def balancing_of(snapshot: Snapshot, members: Sequence[SnapshotMember]) -> Balancing:
    annotators = int(snapshot.rules.get("annotators_per_item", 4))
    moved: dict[str, int] = {}
    unanimous: dict[str, int] = {}
    for member in members:
        if moved_by_balancing(member):
            moved[member.label] = moved.get(member.label, 0) + 1
        if member.split == "test" and is_unanimous(member, annotators):
            unanimous[member.label] = unanimous.get(member.label, 0) + 1
    return Balancing(snapshot.rules.get("cap_used"), moved, unanimous)


def tier_rules(snapshot: Snapshot) -> dict[str, Any]:
    """The rules a reader needs to rebuild the split, in words and numbers."""
    rules = snapshot.rules
    n = rules.get("annotators_per_item")
    return {
        "annotators_per_item": n,
        "train": f"a unique top mood with {rules.get('train_quorum')} or more of {n} votes",
        "test": (
            f"a unique top mood with exactly {rules.get('test_quorum')} of {n} votes; train-tier"
            " images the per-mood cap leaves out; ties (2-2) the lead broke"
        ),
        "disputed": "a 2-2 tie the lead has not broken: in no set",
        **rules,
    }


def _chunks(members: Sequence[SnapshotMember]) -> Iterator[Sequence[SnapshotMember]]:
    for start in range(0, len(members), _IN_CHUNK):
        yield members[start : start + _IN_CHUNK]
