"""Votes as CSV: a batched, idempotent import and the export.

The import streams the file and commits every ``BATCH_ROWS`` rows, each batch a
short write transaction, so annotators voting during a long import wait at most
one batch (docs/architecture.md, "Annotation"). Each batch takes the write lock,
reads the current votes of its images, and writes only what differs: importing
the same file again changes nothing and says so (``changed`` 0). The same rules
as a vote cast on the page hold: no image goes past its quorum, frozen images
are read-only, and a deactivated annotator's votes are refused unless asked for.

Whatever stops an import part-way says exactly which lines were imported: a line
that is not UTF-8 is that line's rejection (the rest goes on); a file that cannot be
read on, or a batch the database refuses, ends the import with a message naming
the lines stored before it and those not (docs/security.md, "Votes CSV imports").
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.db import lock_for_write, retry_locked
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Image, ImageVote, Role, User
from moodlab.core.timeutil import utcnow
from moodlab.votes.annotation import SKIP, _mood_or_skip, top_two
from moodlab.votes.rounds import in_snapshot_this_round

CSV_COLUMNS = ("image", "annotator", "mood")
EXPORT_VERSION_COLUMN = "guidelines_version"  # the export's fourth column; imports skip it
BATCH_ROWS = 5_000
# The largest CSV field read (Python's csv default, made explicit): a longer one is
# that line's rejection, not a traceback.
MAX_FIELD_BYTES = 128 * 1024
_IN_CHUNK = 1_000  # ids per IN (...) list


@dataclass
class ImportReport:
    """``imported``: rows written (new votes plus changed ones); ``changed`` the same
    number under the name a re-run checks; ``unchanged``: rows already stored as given;
    ``replaced``: the changed ones that overwrote a different earlier answer."""

    imported: int = 0
    unchanged: int = 0
    replaced: int = 0
    batches: int = 0
    rejected: list[dict] = field(default_factory=list)
    # Votes written for deactivated annotators (only with include_deactivated), by name.
    deactivated: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "imported": self.imported,
            "changed": self.imported,
            "unchanged": self.unchanged,
            "replaced": self.replaced,
            "batches": self.batches,
            "rejected": self.rejected,
            "deactivated": dict(self.deactivated),
        }

    def stored_so_far(self, last_line: int) -> str:
        """What is in the database of lines 2..``last_line``, for a message that stops there."""
        if last_line < 2:
            return "no line was imported"
        return (
            f"lines 2-{last_line} were imported ({self.imported} votes written,"
            f" {self.unchanged} already stored,"
            f" {sum(r['line'] <= last_line for r in self.rejected)} lines rejected"
            f" in {self.batches} batches)"
        )


class ImportStopped(MoodlabError):
    """An import ended part-way; the message says which lines were stored."""


# One parsed row: (line, image ref as written, image id, annotator id, mood or None).
Row = tuple[int, str, int, int, str | None]


def import_votes(
    *,
    session: Session,
    actor: Actor,
    path: Path,
    settings: Settings | None = None,
    batch_rows: int = BATCH_ROWS,
    include_deactivated: bool = False,
) -> ImportReport:
    """Votes from a CSV (image = sha256 or source URL, annotator name, mood or "skip").

    Unknown images, annotators and moods, lines that are not UTF-8, answers past an
    image's quorum, answers on frozen images and (unless ``include_deactivated``) the
    answers of deactivated annotators are rejected with their line numbers; the rest
    are written, a batch at a time (``session`` is committed after each batch).
    ImportStopped, when the file cannot be read on or a batch cannot be written,
    names the lines stored before it.
    """
    require_role(actor, Role.LEAD, action="import votes")
    quorum = (settings or Settings.from_env()).annotators_per_item
    users = {
        name: (id_, active)
        for name, id_, active in session.execute(select(User.name, User.id, User.active))
    }
    deactivated = {id_: name for name, (id_, active) in users.items() if not active}
    images = _ImageLookup(session)
    mood_of: dict[str, str | None] = {}
    report = ImportReport()
    batch: list[Row] = []
    done_to = 1  # the last line whose rows are all in ``report`` (the header is line 1)
    line = 1
    rows = _read_rows(path)
    while True:
        try:
            line, fields_or_error = next(rows)
        except StopIteration:
            break
        except OSError as exc:
            # The rows read so far were checked: they are stored, and the message says so.
            _commit_batch(session, batch, quorum, report, deactivated, done_to)
            raise ImportStopped(
                f"cannot read {path} after line {line}: {exc};"
                f" {report.stored_so_far(line)}, nothing after it"
            ) from None
        if isinstance(fields_or_error, str):
            report.rejected.append({"line": line, "reason": fields_or_error})
            continue
        ref, name, mood_text = fields_or_error
        try:
            image_id = images.id_of(ref)
            user = users.get(name.strip())
            if user is None:
                raise MoodlabError(f"unknown annotator {name!r}")
            if not user[1] and not include_deactivated:
                raise MoodlabError(
                    f"annotator {name.strip()!r} is deactivated: their votes are not imported"
                    " (--include-deactivated imports them)"
                )
            if mood_text not in mood_of:
                mood_of[mood_text] = _mood_or_skip(mood_text)
            batch.append((line, ref, image_id, user[0], mood_of[mood_text]))
        except MoodlabError as exc:
            report.rejected.append({"line": line, "reason": str(exc)})
            continue
        if len(batch) >= batch_rows:
            _commit_batch(session, batch, quorum, report, deactivated, done_to)
            done_to, batch = line, []
    if batch:
        _commit_batch(session, batch, quorum, report, deactivated, done_to)
    report.rejected.sort(key=lambda r: r["line"])
    return report


def _commit_batch(
    session: Session,
    batch: list[Row],
    quorum: int,
    report: ImportReport,
    deactivated: dict[int, str],
    done_to: int,
) -> None:
    """Write and commit ``batch``; ``done_to``: the last line of the batches before it."""
    if not batch:
        return

    def write() -> ImportReport:
        try:
            done = _write_batch(session, batch, quorum, deactivated)
            session.commit()
            return done
        except OperationalError:
            session.rollback()
            raise

    try:
        done = retry_locked(write, what=f"the votes of lines {batch[0][0]}-{batch[-1][0]}")
    except MoodlabError as exc:
        session.rollback()
        raise ImportStopped(
            f"{exc}; {report.stored_so_far(done_to)}, none of lines"
            f" {done_to + 1}-{batch[-1][0]} or after"
        ) from None
    report.imported += done.imported
    report.unchanged += done.unchanged
    report.replaced += done.replaced
    report.batches += 1
    report.rejected.extend(done.rejected)
    report.deactivated.update(done.deactivated)


def _write_batch(
    session: Session, batch: list[Row], quorum: int, deactivated: dict[int, str]
) -> ImportReport:
    """Write one batch under the write lock; what it did (not yet committed)."""
    done = ImportReport()
    lock_for_write(session)
    ids = sorted({row[2] for row in batch})
    postgres = session.get_bind().dialect.name == "postgresql"
    state: dict[tuple[int, int], str | None] = {}
    counts: Counter[int] = Counter()
    frozen: set[int] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        if postgres:  # the rows counted stay counted until commit
            session.execute(
                select(Image.id).where(Image.id.in_(chunk)).order_by(Image.id).with_for_update()
            )
        votes = session.execute(
            select(ImageVote.image_id, ImageVote.annotator_id, ImageVote.mood).where(
                ImageVote.image_id.in_(chunk)
            )
        )
        for image_id, annotator_id, mood in votes:
            state[(image_id, annotator_id)] = mood
            counts[image_id] += 1
        frozen.update(
            session.scalars(
                select(Image.id).where(Image.id.in_(chunk), Image.frozen_at.is_not(None))
            )
        )
        frozen.update(
            session.scalars(
                select(Image.id).where(Image.id.in_(chunk), in_snapshot_this_round(Image.id))
            )
        )
    writes: dict[tuple[int, int], str | None] = {}
    for line, ref, image_id, annotator_id, mood in batch:
        key = (image_id, annotator_id)
        if image_id in frozen:
            done.rejected.append(
                {
                    "line": line,
                    "reason": f"image {ref!r} is frozen into a"
                    " dataset snapshot: its votes are read-only",
                }
            )
            continue
        if key in state:
            if state[key] == mood:
                done.unchanged += 1
                continue
            if key not in writes:
                done.replaced += 1
        elif counts[image_id] >= quorum:
            done.rejected.append(
                {"line": line, "reason": f"image {ref!r} already has its {quorum} answers"}
            )
            continue
        else:
            counts[image_id] += 1
        state[key] = writes[key] = mood
        done.imported += 1
        if annotator_id in deactivated:
            done.deactivated[deactivated[annotator_id]] += 1
    if writes:
        _upsert(session, writes, postgres)
        touched = sorted({image_id for image_id, _ in writes})
        images = cast(Table, Image.__table__)
        recount = (
            update(images)
            .where(images.c.id == bindparam("b_id"))
            .values(
                response_count=bindparam("b_count"),
                top_votes=bindparam("b_top"),
                second_votes=bindparam("b_second"),
            )
        )
        given: dict[int, list[str | None]] = {i: [] for i in touched}
        for (image_id, _), mood in state.items():
            if image_id in given:
                given[image_id].append(mood)
        rows = []
        for i in touched:
            top, second = top_two(given[i])
            rows.append({"b_id": i, "b_count": counts[i], "b_top": top, "b_second": second})
        _executemany(session, recount, rows)
    return done


def _upsert(session: Session, writes: dict[tuple[int, int], str | None], postgres: bool) -> None:
    table = cast(Table, ImageVote.__table__)
    insert = (pg_insert if postgres else sqlite_insert)(table)
    statement = insert.on_conflict_do_update(
        index_elements=["image_id", "annotator_id"],
        set_={"mood": insert.excluded.mood, "updated_at": insert.excluded.updated_at},
    )
    # The timestamp converted once, as the column type would for every row.
    dialect = session.get_bind().dialect
    to_db = table.c.updated_at.type._cached_bind_processor(dialect)  # noqa: SLF001
    now = to_db(utcnow()) if to_db else utcnow()
    rows = [
        {"image_id": i, "annotator_id": a, "mood": m, "created_at": now, "updated_at": now}
        for (i, a), m in writes.items()
    ]
    _executemany(session, statement, rows)


def _executemany(session: Session, statement: Any, rows: list[dict[str, Any]]) -> None:
    """``statement`` compiled once, run for every row by the driver (executemany).

    The values must already be what the driver takes (no per-row type processing):
    at 5,000 rows a batch that per-row work was most of an import's time.
    """
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(rows[0]))
    if compiled.positional:
        order = compiled.positiontup or []
        connection.exec_driver_sql(compiled.string, [tuple(r[k] for k in order) for r in rows])
    else:
        connection.exec_driver_sql(compiled.string, rows)


class _ImageLookup:
    """Image ids by sha256 (all loaded once) or by source URL (loaded on first use)."""

    def __init__(self, session: Session):
        self.session = session
        self.by_sha = {sha: id_ for sha, id_ in session.execute(select(Image.sha256, Image.id))}
        self.by_url: dict[str, int] | None = None

    def id_of(self, ref: str) -> int:
        ref = ref.strip()
        if len(ref) == 64:
            found = self.by_sha.get(ref.lower())
            if found is not None:
                return found
        if self.by_url is None:
            query = select(Image.source_url, Image.id).where(Image.source_url.is_not(None))
            self.by_url = {url: i for url, i in self.session.execute(query) if url}
        found = self.by_url.get(ref)
        if found is None:
            raise MoodlabError(f"unknown image {ref!r}")
        return found


def _read_rows(path: Path) -> Iterator[tuple[int, tuple[str, str, str] | str]]:
    """(line, (image, annotator, mood)) per data row, or (line, reason) for an unreadable one.

    Line numbers as a spreadsheet shows them: the header is line 1. Bytes that are not
    UTF-8 are decoded as stand-ins (``surrogateescape``) so the CSV parser keeps its
    place, and the row holding them is refused by the line the byte is on; a decoder
    that raises would stop at the chunk it read ahead, lines before the bad one.
    """
    csv.field_size_limit(MAX_FIELD_BYTES)
    try:
        handle = open(  # noqa: SIM115 (closed below)
            path, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
    except OSError as exc:
        raise MoodlabError(f"cannot read {path}: {exc}") from None
    with handle:
        lines = _Lines(handle)
        reader = csv.reader(lines)
        try:
            header = [name.strip() for name in next(reader, [])]
        except csv.Error as exc:
            raise MoodlabError(f"cannot read {path}: {exc}") from None
        if lines.bad:
            raise MoodlabError(
                f"{path}: the header is not UTF-8 ({next(iter(lines.bad.values()))}):"
                " nothing was imported"
            )
        missing = set(CSV_COLUMNS) - set(header)
        if missing:
            raise MoodlabError(
                f"{path}: missing column(s) {', '.join(sorted(missing))};"
                " expected image,annotator,mood"
            )
        where = [header.index(name) for name in CSV_COLUMNS]
        width = max(where) + 1
        while True:
            first = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                reason = str(exc)
                if "field limit" in reason:
                    reason = f"a field is longer than {MAX_FIELD_BYTES // 1024} KiB"
                yield reader.line_num, f"unreadable CSV row: {reason}"
                continue
            bad = [n for n in range(first, reader.line_num + 1) if n in lines.bad]
            if bad:
                yield bad[0], f"not UTF-8 ({lines.bad[bad[0]]}): this line was not imported"
                continue
            if not row:
                continue
            if len(row) < width:
                row += [""] * (width - len(row))
            yield reader.line_num, (row[where[0]], row[where[1]], row[where[2]])


class _Lines:
    """The file's lines for csv.reader, noting each line with a byte that is not UTF-8."""

    def __init__(self, handle: TextIO):
        self.handle = handle
        self.number = 0
        self.bad: dict[int, str] = {}  # line -> what is wrong there

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.number += 1
        if found := _NOT_UTF8.search(line):
            byte = ord(found.group()) - 0xDC00
            self.bad[self.number] = f"byte 0x{byte:02X} at column {found.start() + 1}"
        return line


# What surrogateescape decodes an undecodable byte to: U+DC80-U+DCFF.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


# Spreadsheet programs run cells that start with these as formulas.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Neutralise CSV injection: a leading formula character gets a quote in front."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def export_votes(*, session: Session, actor: Actor, path: Path) -> int:
    """Every vote and skip as CSV; the number of rows.

    Columns: image (sha256), annotator, mood, and guidelines_version, the version of the
    guidelines the answer was given under (empty: given before versions, or imported).
    The import reads the first three and passes over the fourth.
    """
    require_role(actor, Role.LEAD, action="export votes")
    from moodlab.core.storage import atomic_write

    rows = session.execute(
        select(Image.sha256, User.name, ImageVote.mood, ImageVote.guidelines_version)
        .join(Image, Image.id == ImageVote.image_id)
        .join(User, User.id == ImageVote.annotator_id)
        .order_by(Image.id, User.name)
    ).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CSV_COLUMNS, EXPORT_VERSION_COLUMN])
    for sha, name, mood, version in rows:
        writer.writerow([sha, safe_cell(name), mood or SKIP, "" if version is None else version])
    with atomic_write(Path(path)) as handle:
        handle.write(buffer.getvalue().encode("utf-8"))
    return len(rows)
