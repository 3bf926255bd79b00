"""Datasets: votes into the paper's train set (3 of 4) and test set (2 of 4), frozen.

``plan`` previews a snapshot without writing anything; ``freeze`` writes the same
plan as an immutable snapshot and freezes its images' votes. The same votes,
rules and seed always give the same members and the same manifest hash.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Image, ImageVote, Role, Snapshot, SnapshotMember, TieBreak
from moodlab.core.timeutil import utcnow
from moodlab.votes.quorum import TIER_ORDER, Tier, decide, decide_many, tally

# Fewer train images a mood than this and a plan warns: 10-fold cross-validation (the
# paper's, and `moodlab train`'s default) needs at least one image a fold of each mood.
MIN_TRAIN_PER_MOOD = 10


@dataclass(frozen=True)
class Rules:
    per_mood_cap: int | None = None  # None: balance to the smallest mood that has images
    test_per_mood: int | None = None  # None: every test candidate
    seed: int = 0
    uncapped: bool = False  # every train-tier image, unbalanced (overrides the cap)
    min_per_mood: int = MIN_TRAIN_PER_MOOD  # warn when a mood's train images fall below it


@dataclass(frozen=True)
class Member:
    image_id: int
    sha256: str
    label: str
    split: str  # "train" or "test"
    tier: str  # "train", "test" or "tie_break"
    votes: dict[str, int]


@dataclass
class Plan:
    rules: dict[str, Any]
    members: list[Member]
    disputed: int  # 2-2 ties without a tie-break decision
    cap: int
    warnings: list[str] = field(default_factory=list)
    # Set when a mood's train images fall below the rules' minimum: the first warning.
    low_cap: str | None = None
    uncapped_train: dict[str, int] = field(default_factory=dict)  # train-tier images a mood

    def counts(self, split: str) -> dict[str, int]:
        counts = dict.fromkeys(moods.names(), 0)
        for member in self.members:
            if member.split == split:
                counts[member.label] += 1
        return counts

    @property
    def manifest_sha256(self) -> str:
        return manifest_hash(self.members)


def manifest_hash(members: Iterable[Member]) -> str:
    """sha256 over the members sorted by image hash: one "sha256 label split" line each."""
    lines = sorted(f"{m.sha256} {m.label} {m.split}\n" for m in members)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _decisions(session: Session, settings: Settings):
    """Per image with answers: (image id, sha256, tier, label index, vote counts)."""
    rows = session.execute(
        select(ImageVote.image_id, Image.sha256, ImageVote.mood).join(
            Image, Image.id == ImageVote.image_id
        )
    ).all()
    answered = tally((r[0] for r in rows), [r[2] for r in rows])
    tiers, labels = decide_many(answered.counts, answered.answers, settings)
    sha_of = {r[0]: r[1] for r in rows}
    items = answered.items.tolist()
    return items, answered.counts, tiers, labels, [sha_of[i] for i in items]


def plan(*, session: Session, actor: Actor, settings: Settings, rules: Rules) -> Plan:
    require_role(actor, Role.LEAD, action="build datasets")
    names = moods.names()
    items, counts, tiers, labels, shas = _decisions(session, settings)
    breaks = dict(session.execute(select(TieBreak.image_id, TieBreak.mood)).all())
    by_mood: dict[str, list[Member]] = defaultdict(list)
    test_pool: dict[str, list[Member]] = defaultdict(list)
    disputed = 0
    for i, image_id in enumerate(items):
        votes = {names[m]: int(n) for m, n in enumerate(counts[i]) if n}
        tier = TIER_ORDER[tiers[i]]
        if tier == Tier.TRAIN:
            member = Member(image_id, shas[i], names[labels[i]], "train", "train", votes)
            by_mood[member.label].append(member)
        elif tier == Tier.TEST:
            test_pool[names[labels[i]]].append(
                Member(image_id, shas[i], names[labels[i]], "test", "test", votes)
            )
        elif tier == Tier.DISPUTED:
            if image_id not in breaks:
                disputed += 1
            elif (broken_to := breaks[image_id]) is not None:
                test_pool[broken_to].append(
                    Member(image_id, shas[i], broken_to, "test", "tie_break", votes)
                )
    warnings = []
    present = [len(by_mood[name]) for name in names if by_mood[name]]
    missing = [name for name in names if not by_mood[name]]
    if missing:
        warnings.append(f"no train-tier images yet for {', '.join(missing)}")
    if rules.uncapped:
        cap = max(present, default=0)
    else:
        cap = rules.per_mood_cap if rules.per_mood_cap is not None else min(present, default=0)
    if cap < 0 or (rules.test_per_mood is not None and rules.test_per_mood < 0):
        raise MoodlabError("the per-mood cap and the test count cannot be negative")
    uncapped_train = {name: len(by_mood[name]) for name in names}
    low_cap = _low_cap_warning(rules, cap, uncapped_train)
    if low_cap:
        warnings.append(low_cap)
    rng = random.Random(rules.seed)  # noqa: S311  (a reproducible shuffle, not a secret)
    members: list[Member] = []
    for name in names:
        pool = sorted(by_mood[name], key=lambda m: m.sha256)
        rng.shuffle(pool)
        members += pool[:cap]
        # Train-tier images the cap leaves out may serve as test images (the paper's
        # test set was "not used for training, with agreement of 2 or more of 4").
        test_pool[name] += [
            Member(m.image_id, m.sha256, m.label, "test", "train", m.votes) for m in pool[cap:]
        ]
    for name in names:
        pool = sorted(test_pool[name], key=lambda m: m.sha256)
        rng.shuffle(pool)
        members += pool if rules.test_per_mood is None else pool[: rules.test_per_mood]
        if rules.test_per_mood is not None and len(pool) < rules.test_per_mood:
            asked = rules.test_per_mood
            warnings.append(f"{name}: only {len(pool)} test images for the {asked} asked")
    rule_set = {
        **asdict(rules),
        "cap_used": cap,
        "annotators_per_item": settings.annotators_per_item,
        "train_quorum": settings.train_quorum,
        "test_quorum": settings.test_quorum,
    }
    return Plan(rules=rule_set, members=members, disputed=disputed, cap=cap, warnings=warnings,
                low_cap=low_cap, uncapped_train=uncapped_train)  # fmt: skip


def _low_cap_warning(rules: Rules, cap: int, available: dict[str, int]) -> str | None:
    """A loud warning, with the numbers, when a mood's train images fall below the minimum."""
    present = {name: n for name, n in available.items() if n}
    if not present:
        return None
    used = {name: min(cap, n) for name, n in present.items()}
    if min(used.values()) >= rules.min_per_mood:
        return None
    smallest = min(present, key=lambda name: (present[name], name))
    largest = max(present, key=lambda name: (present[name], name))
    total = sum(present.values())
    if cap < present[smallest]:
        why = f"the cap of {cap} train images per mood"
    elif rules.per_mood_cap is None and not rules.uncapped:
        why = f"{smallest} has only {present[smallest]} train-tier images (balancing cuts every"
        why += f" mood to {cap})"
    else:
        why = f"{smallest} has only {present[smallest]} train-tier images"
    return (
        f"Too few train images: {why}, below the minimum of {rules.min_per_mood} per mood"
        f" that {rules.min_per_mood}-fold cross-validation needs; the train set would be"
        f" {sum(used.values())} images. Uncapped, it would keep all {total} train-tier images"
        f" ({largest}: {present[largest]}, {smallest}: {present[smallest]}), unbalanced."
    )


@dataclass
class Frozen:
    snapshot: Snapshot
    plan: Plan
    existing: bool  # a snapshot with the same manifest was frozen before: that one, no new row


def freeze(*, session: Session, actor: Actor, settings: Settings, rules: Rules) -> Snapshot:
    """Build the plan and store it as an immutable snapshot; its images' votes freeze.

    A plan whose manifest equals an existing snapshot's returns that snapshot.
    """
    return freeze_plan(session=session, actor=actor, settings=settings, rules=rules).snapshot


def freeze_plan(*, session: Session, actor: Actor, settings: Settings, rules: Rules) -> Frozen:
    """``freeze``, telling also the plan (its warnings) and whether the snapshot existed."""
    built = plan(session=session, actor=actor, settings=settings, rules=rules)
    if not built.members:
        raise MoodlabError("nothing to freeze: no image has reached the train or test tier yet")
    same = session.scalar(
        select(Snapshot)
        .where(Snapshot.manifest_sha256 == built.manifest_sha256)
        .order_by(Snapshot.id)
        .limit(1)
    )
    if same is not None:
        return Frozen(same, built, existing=True)
    snapshot = Snapshot(
        created_by_id=actor.id,
        rules=built.rules,
        manifest_sha256=built.manifest_sha256,
        train_counts=built.counts("train"),
        test_counts=built.counts("test"),
        disputed=built.disputed,
    )
    session.add(snapshot)
    session.flush()
    session.add_all(
        SnapshotMember(snapshot_id=snapshot.id, **asdict(member)) for member in built.members
    )
    ids = [member.image_id for member in built.members]
    for start in range(0, len(ids), 500):
        session.execute(
            update(Image)
            .where(Image.id.in_(ids[start : start + 500]), Image.frozen_at.is_(None))
            .values(frozen_at=utcnow())
        )
    return Frozen(snapshot, built, existing=False)


def list_snapshots(*, session: Session, actor: Actor) -> list[Snapshot]:
    require_role(actor, Role.LEAD, action="list datasets")
    return list(session.scalars(select(Snapshot).order_by(Snapshot.id.desc())))


def get_snapshot(*, session: Session, actor: Actor, snapshot_id: int) -> Snapshot:
    require_role(actor, Role.LEAD, action="read datasets")
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None:
        raise NotFound(f"no dataset snapshot with id {snapshot_id}")
    return snapshot


def members_of(*, session: Session, actor: Actor, snapshot_id: int) -> list[SnapshotMember]:
    require_role(actor, Role.LEAD, action="read datasets")
    query = select(SnapshotMember).where(SnapshotMember.snapshot_id == snapshot_id)
    return list(session.scalars(query.order_by(SnapshotMember.sha256)))


def snapshot_summary(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "manifest_sha256": snapshot.manifest_sha256,
        "train": snapshot.train_counts,
        "test": snapshot.test_counts,
        "disputed": snapshot.disputed,
        "rules": snapshot.rules,
        "created_at": snapshot.created_at.isoformat(timespec="seconds"),
    }


def rules_text(rules: dict[str, Any]) -> str:
    """A snapshot's rules as a sentence, for the Datasets page."""
    cap = rules.get("per_mood_cap")
    parts = [
        f"train: {rules.get('train_quorum', '?')}+ of {rules.get('annotators_per_item', '?')}"
        f" votes, test: {rules.get('test_quorum', '?')}",
        ("balanced to the smallest mood" if cap is None else "a cap of")
        + f" {rules.get('cap_used', cap)} train images per mood",
        "every test candidate" if rules.get("test_per_mood") is None
        else f"at most {rules['test_per_mood']} test images per mood",
        f"seed {rules.get('seed', 0)}",
    ]  # fmt: skip
    return "; ".join(parts)


# --- disputed images ------------------------------------------------------------------------


@dataclass(frozen=True)
class Disputed:
    image_id: int
    sha256: str
    votes: dict[str, int]
    tied: list[str]
    decision: str | None  # the mood chosen, "left out", or None while undecided


def disputed_images(*, session: Session, actor: Actor, settings: Settings) -> list[Disputed]:
    """Every 2-2 tie, with its votes (the lead sees them; annotators never do)."""
    require_role(actor, Role.LEAD, action="see disputed images")
    names = moods.names()
    items, counts, tiers, _, shas = _decisions(session, settings)
    breaks = dict(session.execute(select(TieBreak.image_id, TieBreak.mood)).all())
    found = []
    for i, image_id in enumerate(items):
        if TIER_ORDER[tiers[i]] != Tier.DISPUTED:
            continue
        top = counts[i].max()
        decision = None
        if image_id in breaks:
            decision = breaks[image_id] or "left out"
        found.append(
            Disputed(
                image_id,
                shas[i],
                {names[m]: int(n) for m, n in enumerate(counts[i]) if n},
                [names[m] for m, n in enumerate(counts[i]) if n == top],
                decision,
            )  # fmt: skip
        )
    return found


def break_tie(*, session: Session, actor: Actor, settings: Settings, image_id: int,
              mood: str | None) -> TieBreak:  # fmt: skip
    """Record the lead's decision on a 2-2 tie: one of the tied moods, or None to leave it out."""
    require_role(actor, Role.LEAD, action="break ties")
    answers = session.scalars(select(ImageVote.mood).where(ImageVote.image_id == image_id)).all()
    if decide(answers, settings).tier != Tier.DISPUTED:
        raise MoodlabError(f"image {image_id} is not a disputed (tied) image")
    votes = Counter(answer for answer in answers if answer is not None)
    tied = [name for name in moods.names() if votes[name] == max(votes.values())]
    chosen = None if mood is None else moods.get(mood).name
    if chosen is not None and chosen not in tied:
        raise MoodlabError(f"{chosen} is not one of the tied moods ({' or '.join(tied)})")
    existing = session.scalar(select(TieBreak).where(TieBreak.image_id == image_id))
    if existing is None:
        existing = TieBreak(image_id=image_id)
        session.add(existing)
    existing.mood, existing.decided_by_id, existing.decided_at = chosen, actor.id, utcnow()
    return existing
