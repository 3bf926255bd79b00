"""music library: track measurements, seed, intended mood, unique path and hash

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 04:39:19.800612
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intended_mood", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("seed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sample_rate", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("tempo_bpm", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("loudness_lufs", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("key", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_tracks_path"), ["path"])
        batch_op.create_unique_constraint(batch_op.f("uq_tracks_sha256"), ["sha256"])
    # Tracks from before knew one mood: take it as the one they were added for.
    op.execute("UPDATE tracks SET intended_mood = mood")


def downgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_tracks_sha256"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_tracks_path"), type_="unique")
        batch_op.drop_column("key")
        batch_op.drop_column("loudness_lufs")
        batch_op.drop_column("tempo_bpm")
        batch_op.drop_column("sample_rate")
        batch_op.drop_column("sha256")
        batch_op.drop_column("seed")
        batch_op.drop_column("intended_mood")
