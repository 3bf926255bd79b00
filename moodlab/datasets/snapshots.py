"""Datasets: votes into the paper's train set (3 of 4) and test set (2 of 4), frozen.

``plan`` previews a snapshot without writing anything; ``freeze`` writes the same
plan as an immutable snapshot and freezes its images' votes. The same votes,
rules and seed always give the same members and the same manifest hash.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.db import lock_for_write
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Image, Role, Snapshot, SnapshotMember, TieBreak
from moodlab.core.timeutil import utcnow
from moodlab.datasets.exclusions import excluded_ids
from moodlab.datasets.wording import low_cap_warning
from moodlab.votes.arrays import (
    VersionCache,
    VotesVersion,
    fetch_rows,
    load_votes,
    votes_version,
)
from moodlab.votes.quorum import decide_many, tally_indexes

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


@dataclass(frozen=True)
class _Decisions:
    """Per image with answers, in image id order: its tier, label, vote counts and hash."""

    items: np.ndarray  # image ids
    counts: np.ndarray  # votes per mood, (images, 8)
    tiers: np.ndarray  # indexes into TIER_ORDER
    labels: np.ndarray  # mood index for train and test, else -1
    shas: list[str]
    sha_rank: np.ndarray  # each row's place in the order of the hashes
    pattern_of: np.ndarray  # each row's index into ``patterns``
    patterns: list[dict[str, int]]  # the distinct {mood: votes} (a few hundred at most)

    def votes_of(self, row: int) -> dict[str, int]:
        return dict(self.patterns[self.pattern_of[row]])

    def by_hash(self, rows: np.ndarray) -> list[int]:
        """``rows`` sorted by their images' hashes."""
        rows = np.asarray(rows, dtype=np.int64)
        return rows[np.argsort(self.sha_rank[rows], kind="stable")].tolist()


@dataclass
class Plan:
    """A snapshot as it would be frozen now: chosen rows of the decisions, members on demand.

    At 100,000 images the page needs only the counts, the ties and the manifest hash,
    so the members (one object each) are made only when asked for (freezing, tests).
    """

    rules: dict[str, Any]
    disputed: int  # 2-2 ties without a tie-break decision
    cap: int
    warnings: list[str]
    decisions: _Decisions
    chosen: list[tuple[int, str, str, str]]  # (row in decisions, label, split, tier)
    # Set when a mood's train images fall below the rules' minimum: the first warning.
    low_cap: str | None = None
    uncapped_train: dict[str, int] = field(default_factory=dict)  # train-tier images a mood

    @property
    def empty(self) -> bool:
        """No member at all (cheaper than ``not members``, which makes every member)."""
        return not self.chosen

    @cached_property
    def members(self) -> list[Member]:
        found = self.decisions
        items = found.items.tolist()
        return [
            Member(items[i], found.shas[i], label, split, tier, found.votes_of(i))
            for i, label, split, tier in self.chosen
        ]

    def counts(self, split: str) -> dict[str, int]:
        return dict(self._counts[split])

    @cached_property
    def _counts(self) -> dict[str, dict[str, int]]:
        counts = {split: dict.fromkeys(moods.names(), 0) for split in ("train", "test")}
        for _, label, split, _ in self.chosen:
            counts[split][label] += 1
        return counts

    @cached_property
    def unanimous_in_test(self) -> int:
        """Test images every annotator agreed on: train-tier images the cap left out."""
        everyone = int(self.rules["annotators_per_item"])
        found = self.decisions
        return sum(
            found.votes_of(i).get(label, 0) >= everyone
            for i, label, split, _ in self.chosen
            if split == "test"
        )

    @cached_property
    def manifest_sha256(self) -> str:
        """``manifest_hash`` of the members, sorted by rank rather than as strings."""
        shas, rank = self.decisions.shas, self.decisions.sha_rank
        order = np.argsort(rank[[c[0] for c in self.chosen]], kind="stable").tolist()
        lines = (
            f"{shas[self.chosen[k][0]]} {self.chosen[k][1]} {self.chosen[k][2]}\n" for k in order
        )
        return hashlib.sha256("".join(lines).encode()).hexdigest()


def manifest_hash(members: Iterable[Member]) -> str:
    """sha256 over the members sorted by image hash: one "sha256 label split" line each."""
    return _hash_lines(f"{m.sha256} {m.label} {m.split}\n" for m in members)


def _hash_lines(lines: Iterable[str]) -> str:
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


# Both are keyed by the votes' version (moodlab.votes.arrays): a rerun of the Datasets
# page with unchanged votes and rules costs one small query; a new seed or cap reuses
# the decisions and only re-draws the plan.
_DECISIONS = VersionCache(size=4)
_PLANS = VersionCache(size=16)
_HASHES = VersionCache(size=2)


def _quorum(settings: Settings) -> tuple[int, int, int]:
    return settings.annotators_per_item, settings.train_quorum, settings.test_quorum


def _decisions(session: Session, settings: Settings, version: VotesVersion | None = None):
    """The decisions over every vote, cached on the votes' version and the quorum rules."""
    version = votes_version(session) if version is None else version
    return _DECISIONS.get((version, _quorum(settings)), lambda: _load(session, settings, version))


def current_decisions(session: Session, settings: Settings) -> _Decisions:
    """Every answered image's tier and top mood now (cached on the votes' version)."""
    return _decisions(session, settings)


def _image_hashes(session: Session, version: VotesVersion):
    """Every image's id (ascending), sha256 and rank among the hashes.

    Cached until images are added or removed: a new vote does not re-read them.
    """

    def read() -> tuple[np.ndarray, list[str], np.ndarray]:
        rows = fetch_rows(session, select(Image.id, Image.sha256).order_by(Image.id))
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        shas = [r[1] for r in rows]
        rank = np.empty(len(shas), dtype=np.int64)
        rank[sorted(range(len(shas)), key=shas.__getitem__)] = np.arange(len(shas))
        return ids, shas, rank

    return _HASHES.get(version.images_key, read)


def _load(
    session: Session, settings: Settings, version: VotesVersion, *, retry: bool = True
) -> _Decisions:
    votes = load_votes(session)
    answered = tally_indexes(votes.image_ids, votes.mood_idx)
    tiers, labels = decide_many(answered.counts, answered.answers, settings)
    ids, all_shas, all_ranks = _image_hashes(session, version)
    at = np.searchsorted(ids, answered.items)
    at = np.minimum(at, max(len(ids) - 1, 0))
    if len(answered.items) and (len(ids) == 0 or (ids[at] != answered.items).any()):
        if not retry:
            raise MoodlabError("votes name images that are not in the database")
        # An image added or removed between the two reads: read the hashes again.
        _HASHES.clear()
        return _load(session, settings, votes_version(session), retry=False)
    shas = [all_shas[i] for i in at.tolist()]
    pattern_of, patterns = _patterns(answered.counts)
    return _Decisions(
        answered.items, answered.counts, tiers, labels, shas, all_ranks[at], pattern_of, patterns
    )


def _patterns(counts: np.ndarray) -> tuple[np.ndarray, list[dict[str, int]]]:
    """Each row's index into the distinct vote patterns, and those patterns as dicts.

    A row of counts is read as one integer in base (largest count + 1), so finding
    the distinct rows is a 1-D np.unique (a row-wise one is several times slower).
    """
    names = moods.names()
    if len(counts) == 0:
        return np.zeros(0, dtype=np.int64), []
    base = int(counts.max()) + 1
    if base ** counts.shape[1] < 2**62:
        codes = counts.astype(np.int64) @ (base ** np.arange(counts.shape[1], dtype=np.int64))
        _, first, pattern_of = np.unique(codes, return_index=True, return_inverse=True)
        distinct = counts[first]
    else:  # hundreds of votes on one image: compare whole rows
        distinct, pattern_of = np.unique(counts, axis=0, return_inverse=True)
    patterns = [{names[m]: int(n) for m, n in enumerate(row) if n} for row in distinct.tolist()]
    return pattern_of.reshape(-1), patterns


def plan(*, session: Session, actor: Actor, settings: Settings, rules: Rules) -> Plan:
    """The snapshot these rules would freeze now; cached on the votes' version and the rules.

    The plan is shared between callers (the Datasets page's reruns): do not mutate it.
    """
    require_role(actor, Role.LEAD, action="build datasets")
    version = votes_version(session)
    return _PLANS.get(
        (version, _quorum(settings), rules),
        lambda: _build(_decisions(session, settings, version), session, settings, rules),
    )


def _build(found: _Decisions, session: Session, settings: Settings, rules: Rules) -> Plan:
    names = moods.names()
    if (rules.per_mood_cap is not None and rules.per_mood_cap < 0) or (
        rules.test_per_mood is not None and rules.test_per_mood < 0
    ):
        raise MoodlabError("the per-mood cap and the test count cannot be negative")
    breaks = dict(session.execute(select(TieBreak.image_id, TieBreak.mood)).all())
    # Images the lead excluded (moodlab.datasets.exclusions) join no set: no tier.
    left_out = np.isin(found.items, np.fromiter(excluded_ids(session), dtype=np.int64))
    tiers, labels = np.where(left_out, -1, found.tiers), found.labels
    train_of = [np.flatnonzero((tiers == 0) & (labels == m)) for m in range(len(names))]
    # Test candidates per mood, as (row, tier): the test tier, broken ties, and later
    # the train-tier rows the cap leaves out.
    test_of: list[list[tuple[int, str]]] = [
        [(i, "test") for i in np.flatnonzero((tiers == 1) & (labels == m)).tolist()]
        for m in range(len(names))
    ]
    disputed = 0
    index_of = {name: m for m, name in enumerate(names)}
    for i in np.flatnonzero(tiers == 2).tolist():
        image_id = int(found.items[i])
        if image_id not in breaks:
            disputed += 1
        elif (broken_to := breaks[image_id]) is not None:
            test_of[index_of[broken_to]].append((i, "tie_break"))
    warnings = []
    present = [len(rows) for rows in train_of if len(rows)]
    missing = [name for name, rows in zip(names, train_of, strict=True) if not len(rows)]
    if missing:
        warnings.append(f"no train-tier images yet for {', '.join(missing)}")
    if rules.uncapped:
        cap = max(present, default=0)
    else:
        cap = rules.per_mood_cap if rules.per_mood_cap is not None else min(present, default=0)
    uncapped_train = {name: len(rows) for name, rows in zip(names, train_of, strict=True)}
    low_cap = low_cap_warning(
        cap=cap,
        available=uncapped_train,
        min_per_mood=rules.min_per_mood,
        per_mood_cap=rules.per_mood_cap,
        uncapped=rules.uncapped,
    )
    if low_cap:
        warnings.append(low_cap)
    rng = random.Random(rules.seed)  # noqa: S311  (a reproducible shuffle, not a secret)
    chosen: list[tuple[int, str, str, str]] = []
    for m, name in enumerate(names):
        pool = found.by_hash(train_of[m])
        rng.shuffle(pool)
        chosen += [(i, name, "train", "train") for i in pool[:cap]]
        # Train-tier images the cap leaves out may serve as test images (the paper's
        # test set was "not used for training, with agreement of 2 or more of 4").
        test_of[m] += [(i, "train") for i in pool[cap:]]
    for m, name in enumerate(names):
        candidates = sorted(test_of[m], key=lambda c: found.sha_rank[c[0]])
        rng.shuffle(candidates)
        taken = candidates if rules.test_per_mood is None else candidates[: rules.test_per_mood]
        chosen += [(i, name, "test", tier) for i, tier in taken]
        if rules.test_per_mood is not None and len(candidates) < rules.test_per_mood:
            asked = rules.test_per_mood
            warnings.append(f"{name}: only {len(candidates)} test images for the {asked} asked")
    rule_set = {
        **asdict(rules),
        "cap_used": cap,
        "excluded": int(left_out.sum()),
        "annotators_per_item": settings.annotators_per_item,
        "train_quorum": settings.train_quorum,
        "test_quorum": settings.test_quorum,
    }
    return Plan(
        rules=rule_set,
        disputed=disputed,
        cap=cap,
        warnings=warnings,
        decisions=found,
        chosen=chosen,
        low_cap=low_cap,
        uncapped_train=uncapped_train,
    )


@dataclass
class Frozen:
    snapshot: Snapshot
    plan: Plan
    existing: bool  # a snapshot with the same manifest was frozen before: that one, no new row


def freeze(*, session: Session, actor: Actor, settings: Settings, rules: Rules) -> Snapshot:
    """Build the plan and store it as an immutable snapshot; its images' votes freeze.

    A plan whose manifest equals an existing snapshot's returns that snapshot, also when
    another freeze of the same plan runs at the same moment.
    """
    return freeze_plan(session=session, actor=actor, settings=settings, rules=rules).snapshot


def freeze_plan(*, session: Session, actor: Actor, settings: Settings, rules: Rules) -> Frozen:
    """``freeze``, telling also the plan (its warnings) and whether the snapshot existed."""
    require_role(actor, Role.LEAD, action="build datasets")
    # Always built afresh, never from the page's cache: a freeze must see every vote.
    built = _build(_load(session, settings, votes_version(session)), session, settings, rules)
    if built.empty:
        raise MoodlabError("nothing to freeze: no image has reached the train or test tier yet")
    # The manifest is unique (the table's constraint): of two leads freezing the same plan
    # at once, the second gets the first's snapshot. SQLite's write lock makes the second
    # wait for the first's commit; on PostgreSQL its insert waits on the unique index.
    lock_for_write(session)
    snapshot = Snapshot(
        created_by_id=actor.id,
        rules=built.rules,
        manifest_sha256=built.manifest_sha256,
        train_counts=built.counts("train"),
        test_counts=built.counts("test"),
        disputed=built.disputed,
    )
    try:
        with session.begin_nested():  # a savepoint: a refused insert undoes only itself
            session.add(snapshot)
    except IntegrityError:
        same = session.scalar(
            select(Snapshot).where(Snapshot.manifest_sha256 == built.manifest_sha256)
        )
        if same is None:  # the constraint refused something else: not ours to hide
            raise
        return Frozen(same, built, existing=True)
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
