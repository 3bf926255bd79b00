"""A frozen snapshot exported as a zip in ImageFolder layout, with its manifest."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.storage import ContentStore, atomic_write
from moodlab.core.text import plural
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
    """A zip in ImageFolder layout (train/<Mood>/<sha>.jpg, test/...), manifest.csv and
    metadata.json, written file by file so memory stays flat, then renamed into place."""
    require_role(actor, Role.LEAD, action="export datasets")
    snapshot = get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
    members = members_of(session=session, actor=actor, snapshot_id=snapshot_id)
    store = ContentStore(settings.data_dir)
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["sha256", "label", "split", "tier", "votes", "path"])
    out = Path(out)
    with atomic_write(out) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        for done, member in enumerate(members, start=1):
            arcname = f"{member.split}/{member.label}/{member.sha256}.jpg"
            archive.write(display_path(store, member.sha256), arcname)
            votes = json.dumps(member.votes, sort_keys=True)
            writer.writerow(
                [member.sha256, member.label, member.split, member.tier, safe_cell(votes), arcname]
            )
            if on_progress:
                on_progress(done, len(members))
        archive.writestr("manifest.csv", manifest.getvalue())
        archive.writestr("metadata.json", json.dumps(snapshot_summary(snapshot), indent=2))
    return {"id": snapshot_id, "output": str(out.resolve()), "members": len(members)}


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
