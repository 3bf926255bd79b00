"""The votes as numpy arrays, a cheap version of them, and a cache keyed by that version.

The lead's pages (Agreement, Datasets) compute over every vote. At 100,000 images
and 400,000 votes, loading them is one query of integers (the mood index is worked
out by the database), and the results are cached on ``votes_version``: one query
of counts and maxima that changes whenever a vote, a tie-break or an image is
added, changed or removed, and when the lead excludes an image or sends one back
(docs/architecture.md, "Agreement statistics").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np
from sqlalchemy import BigInteger, ClauseElement, case, cast, func, select
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Image, ImageExclusion, ImageVote, TieBreak, User, VoteRound

SKIPPED = -1  # the mood index of a skip (quorum.SKIPPED)
UNKNOWN = -2  # a mood name moods.toml lacks

T = TypeVar("T")


@dataclass(frozen=True)
class VoteArrays:
    """Every answer: its image, its annotator and its mood index (SKIPPED for a skip)."""

    image_ids: np.ndarray
    annotator_ids: np.ndarray
    mood_idx: np.ndarray


def mood_index_column() -> Any:
    """SQL for a vote's mood index in moods.toml's order; NULL (skip) is SKIPPED."""
    whens = [(ImageVote.mood == name, i) for i, name in enumerate(moods.names())]
    return case((ImageVote.mood.is_(None), SKIPPED), *whens, else_=UNKNOWN)


# One integer per vote, so the driver makes one Python object per row, not three
# (400,000 rows: about half the time): image id, annotator id and mood code in bits.
_ANNOTATOR_BITS, _MOOD_BITS = 20, 4


def _packed() -> Any:
    mood_code = mood_index_column() + 2  # SKIPPED -> 1, UNKNOWN -> 0, moods 2..
    return (
        cast(ImageVote.image_id, BigInteger) * (1 << (_ANNOTATOR_BITS + _MOOD_BITS))
        + cast(ImageVote.annotator_id, BigInteger) * (1 << _MOOD_BITS)
        + mood_code
    )


# The packed votes last read, per database, with the version they were read at: after
# one new or changed vote, only the votes newer than that version are read again.
_last: dict[str, tuple[VotesVersion, np.ndarray]] = {}
_last_lock = threading.Lock()
_MERGE_MOST = 256  # more new or changed votes than this: read them all again


def load_votes(session: Session) -> VoteArrays:
    """Every vote as (image id, annotator id, mood index) arrays, one query.

    The packed rows are kept per database with the version they were read at; when
    votes were only added or changed since, just those rows are read (by id, and by
    the (annotator, updated_at) index) and merged, and a removed vote reads all again.
    """
    version = votes_version(session)
    top = session.scalar(select(func.max(ImageVote.annotator_id))) or 0
    if top >= 1 << _ANNOTATOR_BITS:  # a million users: fall back to three columns
        rows = fetch_rows(
            session, select(ImageVote.image_id, ImageVote.annotator_id, mood_index_column())
        )
        data = np.array(rows, dtype=np.int64).reshape(-1, 3)
        return _checked(session, data[:, 0], data[:, 1], data[:, 2])
    with _last_lock:
        last = _last.get(version.database)
    values = None
    if last is not None and last[0][1:4] == version[1:4]:
        values = last[1]  # only tie-breaks or images changed
    elif last is not None:
        values = _merge_newer(session, *last, version)
    if values is None:
        rows = fetch_rows(session, select(_packed()))
        values = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    with _last_lock:
        _last[version.database] = (version, values)
    image_ids = values >> (_ANNOTATOR_BITS + _MOOD_BITS)
    annotator_ids = (values >> _MOOD_BITS) & ((1 << _ANNOTATOR_BITS) - 1)
    return _checked(session, image_ids, annotator_ids, (values & ((1 << _MOOD_BITS) - 1)) - 2)


def votes_since(
    session: Session, old: VotesVersion, new: VotesVersion, columns: Sequence[Any]
) -> tuple[list[Any], list[Any]] | None:
    """The votes added between ``old`` and ``new`` and the older ones changed since ``old``,
    as rows of ``columns``, for a table kept at ``old`` to merge; None when it must be
    read again (a vote removed, or more than _MERGE_MOST to merge)."""
    if old.max_vote_id is None or old.last_vote_change is None or new.max_vote_id is None:
        return None
    added = session.execute(
        select(*columns)
        .where(ImageVote.id > old.max_vote_id, ImageVote.id <= new.max_vote_id)
        .order_by(ImageVote.id)
    ).all()
    if new.votes != old.votes + len(added):
        return None  # a vote was removed (an undo, a round sent back): read them all
    changed = session.execute(
        select(*columns)
        .where(
            ImageVote.annotator_id.in_(select(User.id)),
            ImageVote.updated_at >= old.last_vote_change,
            ImageVote.id <= old.max_vote_id,
        )
        .limit(_MERGE_MOST + 1)  # more are not merged: no need to read them
    ).all()
    if len(added) + len(changed) > _MERGE_MOST:
        return None  # a bulk import: one full read is quicker than merging
    return list(added), list(changed)


def _merge_newer(
    session: Session, old: VotesVersion, values: np.ndarray, new: VotesVersion
) -> np.ndarray | None:
    """``values`` (read at ``old``) brought up to ``new``; None when it must be read again."""
    since = votes_since(session, old, new, [_packed()])
    if since is None:
        return None
    added, changed = ([r[0] for r in rows] for rows in since)
    merged = values.copy()
    keys = merged >> _MOOD_BITS
    for value in changed:
        at = np.flatnonzero(keys == value >> _MOOD_BITS)
        if len(at) != 1:
            return None
        merged[at[0]] = value
    if any((keys == value >> _MOOD_BITS).any() for value in added):
        return None  # read while a vote arrived (PostgreSQL reads no snapshot): read again
    return np.concatenate([merged, np.array(added, dtype=np.int64)])


def forget_votes() -> None:
    """Drop the kept votes (tests, and the benchmark's cold runs)."""
    with _last_lock:
        _last.clear()


def _checked(session: Session, image_ids, annotator_ids, mood_idx) -> VoteArrays:
    if (mood_idx == UNKNOWN).any():
        bad = session.scalar(select(ImageVote.mood).where(mood_index_column() == UNKNOWN).limit(1))
        raise MoodlabError(f"a vote names the mood {bad!r}, which moods.toml lacks")
    return VoteArrays(image_ids, annotator_ids, mood_idx)


def fetch_rows(session: Session, query: ClauseElement) -> list[tuple[Any, ...]]:
    """The rows of a query straight from the database driver: plain tuples, no Row objects.

    For the few big reads (every vote, every hash): SQLAlchemy's rows cost about as
    much again as the driver's. The query's parameters are inlined (literal binds),
    so only use it on queries built from code, never from user input.
    """
    connection = session.connection()
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


class VotesVersion(NamedTuple):
    """What ``votes_version`` reads: equal versions mean equal votes, ties and images."""

    database: str
    votes: int
    max_vote_id: int | None
    last_vote_change: Any  # a datetime, or None
    tie_breaks: int
    max_tie_break_id: int | None
    last_tie_break: Any
    images: int
    max_image_id: int | None
    # The lead's label review: exclusions made and lifted, rounds of votes closed.
    max_exclusion_id: int | None
    lifted_exclusions: int
    max_round_id: int | None

    @property
    def images_key(self) -> tuple[str, int, int | None]:
        """The part that changes with the images alone (not with votes)."""
        return (self.database, self.images, self.max_image_id)


def votes_version(session: Session) -> VotesVersion:
    """Counts and maxima of the votes, tie-breaks, images and the review's rows, in one query.

    Any vote added (count, max id), changed (max updated_at), or removed (count: an
    undo, or a round archived by sending the image back) changes it, and so does a
    tie-break made or changed, an image added or removed, an exclusion made or lifted,
    or a round of votes closed.
    """
    parts = [
        select(func.count()).select_from(ImageVote),
        select(func.max(ImageVote.id)),
        # The newest vote change, by the (annotator, updated_at) index: a lookup per
        # user instead of a scan of every vote.
        select(func.max(_newest_by_user())),
        select(func.count()).select_from(TieBreak),
        select(func.max(TieBreak.id)),
        select(func.max(TieBreak.decided_at)),
        select(func.count()).select_from(Image),
        select(func.max(Image.id)),
        select(func.max(ImageExclusion.id)),
        select(func.count())
        .select_from(ImageExclusion)
        .where(ImageExclusion.lifted_at.is_not(None)),
        select(func.max(VoteRound.id)),
    ]
    row = session.execute(select(*(p.scalar_subquery() for p in parts))).one()
    return VotesVersion(str(session.connection().engine.url), *row)


def _newest_by_user() -> Any:
    newest = select(func.max(ImageVote.updated_at)).where(ImageVote.annotator_id == User.id)
    return select(newest.scalar_subquery().label("newest")).select_from(User).subquery().c.newest


class VersionCache:
    """A small least-recently-used cache, safe across Streamlit's script threads.

    Keys carry the votes version, so an entry is never stale: a new vote gives a new
    key, and old keys fall out. Values are shared between callers: never mutate them.
    """

    def __init__(self, size: int = 8):
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            self.misses += 1
        value = compute()  # outside the lock: a slow computation does not block hits
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
