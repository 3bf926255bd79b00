"""image provenance and perceptual hash

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 02:34:18.070595
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phash", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("original_suffix", sa.String(length=8), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("page_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("alt_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("license", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attribution", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_images_phash"), ["phash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_phash"))
        batch_op.drop_column("attribution")
        batch_op.drop_column("license")
        batch_op.drop_column("alt_text")
        batch_op.drop_column("page_url")
        batch_op.drop_column("original_suffix")
        batch_op.drop_column("phash")
