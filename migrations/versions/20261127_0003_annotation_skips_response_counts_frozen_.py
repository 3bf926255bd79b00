"""annotation: skips, response counts, frozen images, tracks and track votes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 02:52:51.475728
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("mood", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("license", sa.String(length=64), nullable=True),
        sa.Column("attribution", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
    )
    op.create_table(
        "track_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("mood", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["users.id"],
            name=op.f("fk_track_votes_annotator_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_track_votes_track_id_tracks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_votes")),
        sa.UniqueConstraint(
            "track_id", "annotator_id", name=op.f("uq_track_votes_track_id_annotator_id")
        ),
    )
    with op.batch_alter_table("image_votes", schema=None) as batch_op:
        batch_op.alter_column("mood", existing_type=sa.VARCHAR(length=32), nullable=True)
        batch_op.create_index(
            "ix_image_votes_annotator_id_updated_at", ["annotator_id", "updated_at"], unique=False
        )

    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("response_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("frozen_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_images_queue", ["response_count", "id"], unique=False)
    op.execute(
        "UPDATE images SET response_count ="
        " (SELECT count(*) FROM image_votes WHERE image_votes.image_id = images.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_queue")
        batch_op.drop_column("frozen_at")
        batch_op.drop_column("response_count")

    op.execute("DELETE FROM image_votes WHERE mood IS NULL")  # skips cannot be kept
    with op.batch_alter_table("image_votes", schema=None) as batch_op:
        batch_op.drop_index("ix_image_votes_annotator_id_updated_at")
        batch_op.alter_column("mood", existing_type=sa.VARCHAR(length=32), nullable=False)

    op.drop_table("track_votes")
    op.drop_table("tracks")
