"""snapshot manifests unique

One snapshot per manifest hash (moodlab/datasets/snapshots.py, ``freeze_plan``): two
leads freezing the same plan at once made two snapshots of one set. Duplicates made
before this revision are merged into the oldest of each manifest: the same manifest is
the same members, so models trained on a newer duplicate are pointed at the oldest,
and the newer rows (with their member rows) are deleted. Each merge is logged. The
downgrade drops the index; merged duplicates stay merged.

A unique index, not a table constraint: SQLite adds a constraint only by copying the
table, and dropping the old copy with foreign keys on deletes every snapshot's
members (ON DELETE CASCADE) and unlinks every model from its snapshot.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:45:00.000000
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("moodlab.migrations")


def upgrade() -> None:
    merge_duplicate_snapshots(op.get_bind())
    op.create_index(
        op.f("ix_snapshots_manifest_sha256"), "snapshots", ["manifest_sha256"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_snapshots_manifest_sha256"), table_name="snapshots")


def merge_duplicate_snapshots(connection: sa.Connection) -> None:
    """Keep the oldest snapshot of each manifest; the newer ones' models move to it."""
    rows = connection.execute(
        sa.text("SELECT id, manifest_sha256 FROM snapshots ORDER BY manifest_sha256, id")
    )
    oldest: dict[str, int] = {}
    for snapshot_id, manifest in rows.all():
        keep = oldest.setdefault(manifest, snapshot_id)
        if keep == snapshot_id:
            continue
        moved = connection.execute(
            sa.text("UPDATE trained_models SET snapshot_id = :keep WHERE snapshot_id = :gone"),
            {"keep": keep, "gone": snapshot_id},
        ).rowcount
        connection.execute(
            sa.text("DELETE FROM snapshot_members WHERE snapshot_id = :gone"), {"gone": snapshot_id}
        )
        connection.execute(sa.text("DELETE FROM snapshots WHERE id = :gone"), {"gone": snapshot_id})
        log.warning(
            "snapshot #%d had the manifest of snapshot #%d (%s): merged into #%d"
            " (%d model(s) moved to it)",
            snapshot_id,
            keep,
            manifest[:12],
            keep,
            moved,
        )
