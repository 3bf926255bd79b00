"""A frozen snapshot exported as a zip in ImageFolder layout, with its labels, their
provenance, the votes behind them and a datasheet (moodlab.datasets.labels, .datasheet)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.storage import ContentStore, atomic_write
from moodlab.core.text import plural
from moodlab.datasets.datasheet import DatasheetFacts, datasheet
from moodlab.datasets.labels import (
    LABEL_COLUMNS,
    VOTE_COLUMNS,
    Balancing,
    balancing_of,
    label_rows,
    member_path,
    tier_rules,
    vote_record,
    vote_rows,
)
from moodlab.datasets.snapshots import get_snapshot, members_of, snapshot_summary
from moodlab.images.intake import display_path
from moodlab.jobs.context import JobContext, JobParams, JobResult
from moodlab.votes.csv_votes import safe_cell


def export(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    snapshot_id: int,
    out: Path,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """A zip in ImageFolder layout (train/<Mood>/<sha>.jpg, test/...) with what a paper
    cites: labels.csv and labels.json (each image's label and provenance, the tier rules,
    the balancing), votes.csv (who voted what, when), datasheet.md, and the manifest.

    Written entry by entry so memory stays flat, then renamed into place.
    """
    require_role(actor, Role.LEAD, action="export datasets")
    snapshot = get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
    members = members_of(session=session, actor=actor, snapshot_id=snapshot_id)
    store = ContentStore(settings.data_dir)
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["sha256", "label", "split", "tier", "votes", "path"])
    out = Path(out)
    facts = DatasheetFacts()
    balancing = balancing_of(snapshot, members)
    with atomic_write(out) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        for done, member in enumerate(members, start=1):
            arcname = member_path(member)
            archive.write(display_path(store, member.sha256), arcname)
            votes = json.dumps(member.votes, sort_keys=True)
            writer.writerow(
                [member.sha256, member.label, member.split, member.tier, safe_cell(votes), arcname]
            )
            if on_progress:
                on_progress(done, len(members))
        archive.writestr("manifest.csv", manifest.getvalue())
        archive.writestr("metadata.json", json.dumps(snapshot_summary(snapshot), indent=2))
        with _text_entry(archive, "labels.csv") as text:
            labels = csv.writer(text)
            labels.writerow(LABEL_COLUMNS)
            for row in label_rows(session, snapshot, members):
                facts.add_label(row)
                labels.writerow([_csv_value(row[name]) for name in LABEL_COLUMNS])
        with _text_entry(archive, "labels.json") as text:
            _write_labels_json(text, session, snapshot, members, balancing)
        with _text_entry(archive, "votes.csv") as text:
            votes_out = csv.writer(text)
            votes_out.writerow([name for name, _ in VOTE_COLUMNS])
            for vote in vote_rows(session, snapshot, members):
                facts.add_vote(vote)
                votes_out.writerow([_csv_value(v) for v in vote_record(vote).values()])
        archive.writestr("datasheet.md", datasheet(snapshot, facts, balancing))
    return {
        "id": snapshot_id,
        "output": str(out.resolve()),
        "members": len(members),
        "votes": facts.votes + facts.skips,
        "balancing": balancing.as_dict(),
    }


@contextmanager
def _text_entry(archive: zipfile.ZipFile, name: str) -> Iterator[TextIO]:
    """A zip entry written as UTF-8 text as it goes (force_zip64: its size is not known)."""
    with (
        archive.open(name, "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
    ):
        yield text


def _csv_value(value: Any) -> Any:
    """A cell: dicts as JSON, None empty, text from the web neutralised against formulas."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    return safe_cell(value) if isinstance(value, str) else value


def _write_labels_json(
    text: TextIO,
    session: Session,
    snapshot: Any,
    members: list[Any],
    balancing: Balancing,
) -> None:
    """``{"snapshot", "tier_rules", "balancing", "images": [...]}``, one image at a time."""
    head = {
        "snapshot": snapshot_summary(snapshot),
        "tier_rules": tier_rules(snapshot),
        "balancing": balancing.as_dict(),
    }
    text.write(json.dumps(head, indent=1)[:-2] + ',\n "images": [')
    for n, row in enumerate(label_rows(session, snapshot, members)):
        text.write(("," if n else "") + "\n  " + json.dumps(row, ensure_ascii=False))
    text.write("\n ]\n}\n")


@dataclass(frozen=True)
class ExportResult(JobResult):
    """A dataset export's result: the zip and how many images went in."""

    id: int | None = None
    output: str | None = None
    members: int = 0

    def summary(self) -> str:
        name = Path(self.output).name if self.output else "zip"
        return f"{plural(self.members, 'image')} in {name}"


@dataclass
class ExportParams(JobParams):
    """A snapshot exported as a zip; ``out`` defaults to data/exports/."""

    KIND = "dataset_export"
    TITLE = "dataset export"
    ROLE = Role.LEAD
    snapshot_id: int = 0
    out: str | None = None

    def validate(self, settings: Settings) -> None:
        if self.snapshot_id < 1:
            raise MoodlabError("name a snapshot to export by its id")
        self.out = str(Path(self.out or export_path(settings, self.snapshot_id)).expanduser())


def run_export(ctx: JobContext, params: ExportParams) -> dict:
    out = Path(params.out or export_path(ctx.settings, params.snapshot_id))
    ctx.log(f"exporting snapshot #{params.snapshot_id} to {out}")
    with ctx.database.session() as session:
        result = export(
            session=session,
            actor=ctx.actor,
            settings=ctx.settings,
            snapshot_id=params.snapshot_id,
            out=out,
            on_progress=lambda done, total: ctx.progress(done / total, f"{done} of {total} images"),
        )
    ctx.log(f"done: {ExportResult.from_json(result).summary()}")
    return result


def export_path(settings: Settings, snapshot_id: int) -> Path:
    return settings.data_dir / "exports" / f"moodlab-dataset-{snapshot_id}.zip"
