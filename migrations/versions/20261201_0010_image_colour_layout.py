"""image colour layout

Near-duplicates are judged by colour as well as structure: each image keeps the mean
CIELAB colours of a 4x4 grid (moodlab.images.similarity). Images stored before this
revision get theirs from their display copy the next time an intake loads the index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("colour_layout", sa.String(length=96), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("colour_layout")
