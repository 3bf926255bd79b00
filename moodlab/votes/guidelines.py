"""The lab's annotation guidelines: what each mood means, with example images, versioned.

Version 1 is the defaults (``default_guidelines.toml``), saved the first time anything
needs a version number; the lead publishes a new version on the Guidelines page, and a
published version never changes. Every vote records the version it was given under
(moodlab.votes.annotation), the votes CSV names it, and Agreement shows each version
with the votes given under it (docs/architecture.md, "Guidelines").
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, partial
from importlib import resources
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role, user_id
from moodlab.core.errors import MoodlabError
from moodlab.core.models import GuidelinesRead, GuidelinesVersion, Image, ImageVote, Role, User
from moodlab.core.timeutil import utcnow
from moodlab.votes.arrays import (
    SKIPPED,
    VersionCache,
    VotesVersion,
    fetch_rows,
    mood_index_column,
    votes_since,
    votes_version,
)

# The Guidelines page asks for two or three examples a mood; more would crowd the panel.
MAX_EXAMPLES = 3
# A definition is shown on a mood's button: one line a person reads at a glance.
MAX_DEFINITION = 160
MAX_TEXT = 4_000  # a mood's longer explanation
MAX_INTRO = 8_000


class GuidelinesError(MoodlabError):
    """Guidelines that cannot be published as given; the message says what and why."""


@dataclass(frozen=True)
class MoodGuide:
    name: str
    definition: str  # one line, on the mood's button
    text: str  # the longer explanation
    examples: tuple[int, ...] = ()  # image ids, at most MAX_EXAMPLES


@dataclass(frozen=True)
class Guidelines:
    version: int
    intro: str
    moods: dict[str, MoodGuide]  # in circle order
    note: str = ""
    created_at: datetime | None = None  # None: the defaults, not saved yet
    created_by: str | None = None
    changed: tuple[str, ...] = field(default=())  # moods (or "intro") changed from the last

    def definitions(self) -> dict[str, str]:
        return {name: guide.definition for name, guide in self.moods.items()}


@cache
def _default_table() -> dict[str, Any]:
    text = (
        resources.files("moodlab.votes")
        .joinpath("default_guidelines.toml")
        .read_text(encoding="utf-8")
    )
    return tomllib.loads(text)


def defaults() -> Guidelines:
    """The guidelines moodlab ships: version 1 of every lab's."""
    table = _default_table()
    guides = {
        name: MoodGuide(name, _one_line(table[name]["definition"]), _paragraph(table[name]["text"]))
        for name in moods.names()
    }
    return Guidelines(version=1, intro=_paragraph(table["intro"]), moods=guides)


def current(session: Session) -> Guidelines:
    """The newest published version, or the defaults as version 1 when none is saved."""
    row = session.scalar(select(GuidelinesVersion).order_by(GuidelinesVersion.version.desc()))
    return defaults() if row is None else _from_row(session, row)


def current_version(session: Session) -> int:
    """The newest version's number, saving the defaults as version 1 when none is saved.

    Called by every vote; two first votes at once insert version 1 once (ON CONFLICT).
    """
    newest = session.scalar(select(func.max(GuidelinesVersion.version)))
    if newest is not None:
        return int(newest)
    base = defaults()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(GuidelinesVersion)
        .values(version=1, intro=base.intro, moods=_moods_json(base), note="", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["version"])
    )
    return 1


def history(session: Session) -> list[Guidelines]:
    """Every saved version, newest first, each with what changed from the one before."""
    rows = list(session.scalars(select(GuidelinesVersion).order_by(GuidelinesVersion.version)))
    versions: list[Guidelines] = []
    for row in rows:
        this = _from_row(session, row)
        if versions:
            this = replace(this, changed=_changes(versions[-1], this))
        versions.append(this)
    return versions[::-1]


def publish(
    *,
    session: Session,
    actor: Actor,
    intro: str,
    definitions: dict[str, str],
    texts: dict[str, str],
    examples: dict[str, list[int]],
    note: str = "",
) -> Guidelines:
    """Publish a new version (lead only); refused with a message naming the field and why.

    Every mood needs a one-line definition; a mood may have up to MAX_EXAMPLES example
    images, which must exist. Publishing what is already current is refused.
    """
    require_role(actor, Role.LEAD, action="publish annotation guidelines")
    guides: dict[str, MoodGuide] = {}
    for name in moods.names():
        definition = _one_line(definitions.get(name, ""))
        if not definition:
            raise GuidelinesError(f"{name}: the definition is empty (one line is shown on its key)")
        if len(definition) > MAX_DEFINITION:
            raise GuidelinesError(
                f"{name}: the definition is {len(definition)} characters long, more than"
                f" {MAX_DEFINITION} (it has to fit on the mood's key)"
            )
        text = _paragraph(texts.get(name, ""))
        if len(text) > MAX_TEXT:
            raise GuidelinesError(f"{name}: the text is longer than {MAX_TEXT:,} characters")
        chosen = _check_examples(session, name, examples.get(name, []))
        guides[name] = MoodGuide(name, definition, text, chosen)
    unknown = set(definitions) - set(moods.names())
    if unknown:
        raise GuidelinesError(f"unknown mood {sorted(unknown)[0]!r} in the definitions")
    intro = _paragraph(intro)
    if len(intro) > MAX_INTRO:
        raise GuidelinesError(f"the introduction is longer than {MAX_INTRO:,} characters")
    newest = current_version(session)
    before = current(session)
    if before.intro == intro and before.moods == guides:
        raise GuidelinesError(f"nothing changed: version {newest} already says this")
    row = GuidelinesVersion(
        version=newest + 1,
        intro=intro,
        moods=_moods_json(Guidelines(newest + 1, intro, guides)),
        note=note.strip(),
        created_by_id=actor.id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    if actor.id is not None:  # who wrote them has read them
        mark_read(session=session, actor=actor, version=row.version)
    return _from_row(session, row)


def needs_reading(*, session: Session, actor: Actor) -> Guidelines | None:
    """The current guidelines when ``actor`` has not confirmed reading them yet, else None."""
    if actor.id is None:
        return None
    guidelines = current(session)
    read = session.scalar(select(GuidelinesRead.version).where(GuidelinesRead.user_id == actor.id))
    return None if read is not None and read >= guidelines.version else guidelines


def last_read(*, session: Session, actor: Actor) -> int | None:
    if actor.id is None:
        return None
    return session.scalar(select(GuidelinesRead.version).where(GuidelinesRead.user_id == actor.id))


def mark_read(*, session: Session, actor: Actor, version: int | None = None) -> int:
    """Record that ``actor`` read the guidelines (the current version unless given)."""
    reader = user_id(actor, action="confirm reading the guidelines")
    version = version or current_version(session)
    row = session.get(GuidelinesRead, reader)
    if row is None:
        session.add(GuidelinesRead(user_id=reader, version=version, read_at=utcnow()))
    elif row.version < version:
        row.version, row.read_at = version, utcnow()
    session.flush()
    return version


@dataclass(frozen=True)
class VersionUse:
    """One version and the answers given under it, for Agreement and ``moodlab guidelines``."""

    version: int
    created_at: datetime | None
    created_by: str | None
    note: str
    changed: tuple[str, ...]
    votes: int
    skips: int
    # Of the votes under this version whose image's other votes have a unique top mood,
    # how many gave that mood (leave-one-out, as Agreement's per-annotator figure).
    judged: int = 0
    agreeing: int = 0

    @property
    def agreement(self) -> float | None:
        """The share of judged votes that agree with the others' majority; None: none judged."""
        return self.agreeing / self.judged if self.judged else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by,
            "note": self.note,
            "changed": list(self.changed),
            "votes": self.votes,
            "skips": self.skips,
            "agreement_with_majority": self.agreement,
            "judged": self.judged,
        }


def versions_in_use(session: Session) -> list[VersionUse]:
    """Every version, newest first, with its votes and skips; version None: votes before any."""
    tally = _by_version(session)
    counts = {v: (t[0], t[1]) for v, t in tally.items() if t[0] or t[1]}
    agreement = {v: (t[2], t[3]) for v, t in tally.items()}
    uses = [
        VersionUse(
            g.version,
            g.created_at,
            g.created_by,
            g.note,
            g.changed,
            *counts.get(g.version, (0, 0)),
            *agreement.get(g.version, (0, 0)),
        )
        for g in history(session)
    ]
    if None in counts:
        note = "given before guidelines were versioned, or imported"
        uses.append(VersionUse(0, None, None, note, (), *counts[None], *agreement[None]))
    return uses


def agreement_by_version(session: Session) -> dict[int | None, tuple[int, int]]:
    """Per version: (votes judged, votes agreeing with the majority of the image's others).

    A vote is judged when the other votes on its image (under any version) have a unique
    top mood; skips are no votes. Cached on the votes' version (moodlab.votes.arrays).
    """
    return {v: (t[2], t[3]) for v, t in _by_version(session).items() if t[2]}


# Per version: (votes, skips, votes judged, votes agreeing), kept on the votes' version.
# After a new or changed vote only its image is counted again: the answers are kept per
# database with the version they were read at (as moodlab.votes.arrays.load_votes keeps
# the votes), and each image adds to the counts on its own. Reading every answer again
# after every vote took 2.6 s at 100,000 images (issue 29).
Tally = dict[int | None, tuple[int, int, int, int]]
_AGREEMENT = VersionCache(size=4)
_ANSWERS: dict[str, tuple[VotesVersion, np.ndarray, Tally]] = {}
_ANSWERS_LOCK = threading.Lock()
_NO_VERSION = -1


def _by_version(session: Session) -> Tally:
    version = votes_version(session)
    return _AGREEMENT.get(version, lambda: _tally_newest(session, version))


def forget_answers() -> None:
    """Drop the kept answers (tests, and the benchmark's cold runs)."""
    with _ANSWERS_LOCK:
        _ANSWERS.clear()
    _AGREEMENT.clear()


def _answer_columns() -> tuple[Any, ...]:
    # Vote id, image id, mood index (skips too: a vote may become a skip), version.
    version = func.coalesce(ImageVote.guidelines_version, _NO_VERSION)
    return (ImageVote.id, ImageVote.image_id, mood_index_column(), version)


def _tally_newest(session: Session, version: VotesVersion) -> Tally:
    with _ANSWERS_LOCK:
        last = _ANSWERS.get(version.database)
    found = None
    if last is not None and last[0][1:4] == version[1:4]:
        found = last[1], last[2]  # only tie-breaks, images or the review changed
    elif last is not None:
        merged = _merge_newer(session, last[0], last[1], version)
        if merged is not None:
            table, touched = merged
            found = (
                table,
                _plus(
                    _minus(last[2], _tally(last[1][np.isin(last[1][:, 1], touched)])),
                    _tally(table[np.isin(table[:, 1], touched)]),
                ),
            )
    if found is None:
        query = select(*_answer_columns()).order_by(ImageVote.id)
        if version.max_vote_id is not None:  # none that arrived since the version was read
            query = query.where(ImageVote.id <= version.max_vote_id)
        table = np.array(fetch_rows(session, query), dtype=np.int64).reshape(-1, 4)
        found = table, _tally(table)
    with _ANSWERS_LOCK:
        if len(found[0]) == version.votes:  # else a vote was removed meanwhile: keep none
            _ANSWERS[version.database] = (version, *found)
        else:
            _ANSWERS.pop(version.database, None)
    return found[1]


def _merge_newer(
    session: Session, old: VotesVersion, table: np.ndarray, new: VotesVersion
) -> tuple[np.ndarray, np.ndarray] | None:
    """``table`` (read at ``old``) brought up to ``new``, with the image ids it changed;
    None when it must be read again (a vote removed, or many changed)."""
    since = votes_since(session, old, new, _answer_columns())
    if since is None:
        return None
    added, changed = since
    merged = table.copy()
    ids = merged[:, 0]
    for row in changed:
        at = int(np.searchsorted(ids, row[0]))
        if at >= len(ids) or ids[at] != row[0]:
            return None
        merged[at] = row
    if added:
        merged = np.concatenate([merged, np.array(added, dtype=np.int64).reshape(-1, 4)])
    touched = np.unique(np.array([r[1] for r in [*added, *changed]], dtype=np.int64))
    return merged, touched


def _minus(tally: Tally, less: Tally) -> Tally:
    return _plus(tally, {v: (-a, -b, -c, -d) for v, (a, b, c, d) in less.items()})


def _plus(tally: Tally, more: Tally) -> Tally:
    out = dict(tally)
    for v, extra in more.items():
        out[v] = tuple(x + y for x, y in zip(out.get(v, (0, 0, 0, 0)), extra, strict=True))  # type: ignore[assignment]
    return out


def _tally(table: np.ndarray) -> Tally:
    """Per version, over the answers (vote id, image, mood index, version) of whole images:
    votes, skips, and of the votes those judged and agreeing (each image on its own, so
    the counts of some images may be taken from or added to the others')."""
    out: Tally = {}
    versions_all = table[:, 3]
    skipped = table[:, 2] == SKIPPED
    for v in np.unique(versions_all):
        mine = versions_all == v
        out[None if v == _NO_VERSION else int(v)] = (
            int(np.count_nonzero(mine & ~skipped)),
            int(np.count_nonzero(mine & skipped)),
            0,
            0,
        )
    voted = table[table[:, 2] >= 0]  # a mood moods.toml knows
    if not len(voted):
        return out
    # One read of integers (no ORM rows), then numpy over every vote at once.
    image_ids, mood_idx, versions = voted[:, 1], voted[:, 2], voted[:, 3]
    _, item = np.unique(image_ids, return_inverse=True)
    n_moods = len(moods.names())
    counts = np.zeros((int(item.max()) + 1, n_moods), dtype=np.int64)
    np.add.at(counts, (item, mood_idx), 1)
    others = counts[item]  # per vote: the image's votes, less the vote itself
    others[np.arange(len(item)), mood_idx] -= 1
    ordered = np.sort(others, axis=1)
    judged = (ordered[:, -1] > 0) & (ordered[:, -1] > ordered[:, -2])
    agrees = judged & (others.argmax(axis=1) == mood_idx)
    for v in np.unique(versions[judged]):
        key = None if v == _NO_VERSION else int(v)
        votes, skips, _, _ = out[key]
        out[key] = (
            votes,
            skips,
            int(np.count_nonzero(judged & (versions == v))),
            int(np.count_nonzero(agrees & (versions == v))),
        )
    return out


def example_candidates(
    *, session: Session, actor: Actor, mood: str, limit: int = 12
) -> list[Image]:
    """Images the lead may pick as examples of ``mood``: the most voted for it, then the newest.

    Lead only: the order reads votes, which annotators never see. The newest images fill
    the list while few have votes, so a new lab can pick examples from its pool at once.
    """
    name = moods.get(mood).name
    return example_candidates_of(session=session, actor=actor, names=[name], limit=limit)[name]


def example_candidates_of(
    *, session: Session, actor: Actor, names: Sequence[str], limit: int = 12
) -> dict[str, list[Image]]:
    """``example_candidates`` of each mood in ``names`` (moods' names), with one read of
    the votes' version and one of the images for them all."""
    require_role(actor, Role.LEAD, action="choose example images")
    version = votes_version(session)
    ids: dict[str, tuple[int, ...]] = {}
    for name in names:
        ids[name] = _CANDIDATES.get(
            (version, name, limit), partial(_candidate_ids, session, name, limit)
        )
    wanted = {i for chosen in ids.values() for i in chosen}
    found = {
        image.id: image for image in session.scalars(select(Image).where(Image.id.in_(wanted)))
    }
    return {name: [found[i] for i in chosen if i in found] for name, chosen in ids.items()}


# The candidates' ids by the votes' version: ranking every vote for a mood took 0.2 s a
# mood at 400,000 votes, on every rerun of the lead's Guidelines page (docs/benchmarks.md).
_CANDIDATES = VersionCache(size=32)


def _candidate_ids(session: Session, name: str, limit: int) -> tuple[int, ...]:
    votes = func.count(ImageVote.id)
    voted = (
        select(ImageVote.image_id)
        .where(ImageVote.mood == name)
        .group_by(ImageVote.image_id)
        .order_by(votes.desc(), ImageVote.image_id)
        .limit(limit)
    )
    found = list(session.scalars(voted))
    if len(found) < limit:
        newest = select(Image.id).where(Image.id.not_in(found)).order_by(Image.id.desc())
        found += session.scalars(newest.limit(limit - len(found)))
    return tuple(found)


def example_images(session: Session, guidelines: Guidelines) -> dict[str, list[Image]]:
    """Each mood's example images that still exist, in the order chosen."""
    wanted = {i for guide in guidelines.moods.values() for i in guide.examples}
    found = {i.id: i for i in session.scalars(select(Image).where(Image.id.in_(wanted)))}
    return {
        name: [found[i] for i in guide.examples if i in found]
        for name, guide in guidelines.moods.items()
    }


def _check_examples(session: Session, mood: str, ids: list[int]) -> tuple[int, ...]:
    chosen = tuple(dict.fromkeys(ids))
    if len(chosen) > MAX_EXAMPLES:
        raise GuidelinesError(
            f"{mood}: {len(chosen)} example images chosen, at most {MAX_EXAMPLES}"
        )
    for image_id in chosen:
        if isinstance(image_id, bool) or not isinstance(image_id, int):
            raise GuidelinesError(f"{mood}: example {image_id!r} is not an image id")
    found = set(session.scalars(select(Image.id).where(Image.id.in_(chosen))))
    missing = [i for i in chosen if i not in found]
    if missing:
        raise GuidelinesError(f"{mood}: no image with id {missing[0]} for an example")
    return chosen


def _from_row(session: Session, row: GuidelinesVersion) -> Guidelines:
    base = defaults()
    guides = {}
    for name in moods.names():
        stored = row.moods.get(name) or {}
        fallback = base.moods[name]
        guides[name] = MoodGuide(
            name,
            str(stored.get("definition") or fallback.definition),
            str(stored.get("text", fallback.text)),
            tuple(int(i) for i in stored.get("examples", [])),
        )
    author = session.get(User, row.created_by_id) if row.created_by_id is not None else None
    return Guidelines(
        version=row.version,
        intro=row.intro,
        moods=guides,
        note=row.note,
        created_at=row.created_at,
        created_by=author.name if author else None,
    )


def _moods_json(guidelines: Guidelines) -> dict[str, Any]:
    return {
        name: {"definition": g.definition, "text": g.text, "examples": list(g.examples)}
        for name, g in guidelines.moods.items()
    }


def _changes(before: Guidelines, after: Guidelines) -> tuple[str, ...]:
    changed = ["intro"] if before.intro != after.intro else []
    changed += [name for name in after.moods if after.moods[name] != before.moods.get(name)]
    return tuple(changed)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _paragraph(value: object) -> str:
    """Text as the lead wrote it, trimmed; lines of one paragraph joined, paragraphs kept."""
    paragraphs = str(value).replace("\r\n", "\n").strip().split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
