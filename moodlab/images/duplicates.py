"""Near-duplicate rejections, side by side, and the lead's "keep both".

An intake job holds each near-duplicate it lists (its original bytes and display copy,
under data/held/job<N>/) and records in its result which stored image it resembled.
``keep_both`` stores the held candidate after all: the same checks again, and the
exact-bytes duplicate check, but not the near-duplicate one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Image, Job, Role
from moodlab.images.intake import Intake, IntakeResult, Provenance


@dataclass(frozen=True)
class NearDuplicate:
    source: str
    reason: str
    sha256: str  # the rejected candidate's
    duplicate_of: int  # the stored image it resembles
    preview: Path  # the candidate's display copy
    kept_as: int | None  # set once the lead kept both


def near_duplicates(*, settings: Settings, job: Job) -> list[NearDuplicate]:
    """The near-duplicates a crawl, import or Openverse job held, in the order found."""
    found = []
    for entry in IntakeResult.from_json(job.result).near_duplicates:
        found.append(
            NearDuplicate(
                source=entry["source"],
                reason=entry["reason"],
                sha256=entry["sha256"],
                duplicate_of=int(entry["duplicate_of"]),
                preview=settings.data_dir / entry["preview"],
                kept_as=entry.get("kept_as"),
            )
        )
    return found


# Held near-duplicates shown at a time: each row holds two 180 px pictures.
PER_PAGE = 12


@dataclass(frozen=True)
class HeldPage:
    """One page of an intake job's held near-duplicates, with what each resembles."""

    items: list[NearDuplicate]
    resembles: dict[int, str]  # the stored images beside them (or kept as): id -> sha256
    total: int
    waiting: int  # held and not kept
    pages: int


def held_page(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    job: Job,
    page: int = 0,
    per_page: int = PER_PAGE,
) -> HeldPage:
    """Page ``page`` (from 0) of the near-duplicates ``job`` held: one query for the stored
    images beside them, whatever the page's size (the page once asked for each alone)."""
    require_role(actor, Role.LEAD, action="see held near-duplicates")
    held = near_duplicates(settings=settings, job=job)
    pages = max(1, -(-len(held) // per_page))
    page = min(max(page, 0), pages - 1)
    items = held[page * per_page : (page + 1) * per_page]
    ids = {item.kept_as or item.duplicate_of for item in items}
    query = select(Image.id, Image.sha256).where(Image.id.in_(ids))
    resembles = {int(i): sha for i, sha in session.execute(query)} if ids else {}
    waiting = sum(item.kept_as is None for item in held)
    return HeldPage(items, resembles, total=len(held), waiting=waiting, pages=pages)


def keep_both(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    database: Database,
    job_id: int,
    sha256: str,
) -> int:
    """Store the near-duplicate ``sha256`` that job ``job_id`` held; the new image's id."""
    require_role(actor, Role.LEAD, action="keep near-duplicates")
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id}")
    result = dict(job.result or {})
    entries: list[dict[str, Any]] = [dict(e) for e in result.get("duplicate_sources", [])]
    entry = next((e for e in entries if e.get("sha256") == sha256 and e.get("held")), None)
    if entry is None:
        raise NotFound(f"job {job_id} holds no near-duplicate {sha256[:12]}")
    if entry.get("kept_as"):
        return int(entry["kept_as"])
    held = settings.data_dir / entry["held"]
    if not held.is_file():
        raise MoodlabError(f"the held copy of {entry['source']} is gone ({held})")
    intake = Intake(settings, database, job_id=job_id)
    checked = intake.check(held.read_bytes())
    existing = session.scalar(select(Image.id).where(Image.sha256 == checked.sha256))
    if existing is not None:
        image_id = int(existing)
    else:
        provenance = Provenance(**entry.get("provenance", {"source": entry["source"]}))
        stored = intake.store_anyway(checked, provenance)
        if stored is None:
            raise MoodlabError(f"{entry['source']} was stored meanwhile")
        image_id = stored
    entry["kept_as"] = image_id
    result["duplicate_sources"] = [entry if e.get("sha256") == sha256 else e for e in entries]
    job.result = result
    for path in (held, settings.data_dir / entry["preview"]):
        path.unlink(missing_ok=True)
    return image_id
