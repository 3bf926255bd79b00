"""label review: exclusions and vote rounds

The lead's label review (moodlab/datasets/review.py): an image can be left out of new
snapshots (image_exclusions: who, when, why; lifted to undo), or sent back for a new
round of votes (vote_rounds, one row per closed round, and archived_votes, that
round's votes as they were: kept, never counted).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-01 13:34:59.534960
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "image_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("excluded_by_id", sa.Integer(), nullable=True),
        sa.Column("excluded_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_by_id", sa.Integer(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["excluded_by_id"],
            ["users.id"],
            name=op.f("fk_image_exclusions_excluded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_image_exclusions_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by_id"],
            ["users.id"],
            name=op.f("fk_image_exclusions_lifted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_exclusions")),
    )
    with op.batch_alter_table("image_exclusions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_image_exclusions_image_id"), ["image_id"], unique=False
        )

    op.create_table(
        "vote_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("snapshot_horizon", sa.Integer(), nullable=False),
        sa.Column("tie_break", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_vote_rounds_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"],
            ["users.id"],
            name=op.f("fk_vote_rounds_sent_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vote_rounds")),
        sa.UniqueConstraint("image_id", "round", name=op.f("uq_vote_rounds_image_id_round")),
    )
    op.create_table(
        "archived_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=True),
        sa.Column("mood", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["users.id"],
            name=op.f("fk_archived_votes_annotator_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_archived_votes_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["vote_rounds.id"],
            name=op.f("fk_archived_votes_round_id_vote_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archived_votes")),
    )
    with op.batch_alter_table("archived_votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_archived_votes_image_id"), ["image_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_archived_votes_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("archived_votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_archived_votes_round_id"))
        batch_op.drop_index(batch_op.f("ix_archived_votes_image_id"))

    op.drop_table("archived_votes")
    op.drop_table("vote_rounds")
    with op.batch_alter_table("image_exclusions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_image_exclusions_image_id"))

    op.drop_table("image_exclusions")
