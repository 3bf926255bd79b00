"""vote queue order and early stop

images gets top_votes and second_votes, the votes of its most and second most voted
mood, from which the queue tells an image whose remaining answers cannot change its
tier (moodlab.votes.quorum.settled); they are filled in from the votes here.
queue_orders keeps the lead's choices of queue order (the newest holds), queue_scores
how unsure a model is of each image, written by training, read by the queue.

images gets its columns by a plain ADD COLUMN, never batch mode: on SQLite batch mode
copies the table, and dropping the old images table with foreign keys on deletes
every vote, snapshot member and score that cascades from an image.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 06:09:17.232056
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("random_share", sa.Float(), nullable=False),
        sa.Column("chosen_by_id", sa.Integer(), nullable=True),
        sa.Column("chosen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chosen_by_id"],
            ["users.id"],
            name=op.f("fk_queue_orders_chosen_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_orders")),
    )
    op.create_table(
        "queue_scores",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("rank", sa.Float(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_queue_scores_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["trained_models.id"],
            name=op.f("fk_queue_scores_model_id_trained_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", name=op.f("pk_queue_scores")),
    )
    op.create_index(op.f("ix_queue_scores_model_id"), "queue_scores", ["model_id"], unique=False)
    op.add_column(
        "images", sa.Column("top_votes", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "images", sa.Column("second_votes", sa.Integer(), server_default="0", nullable=False)
    )
    connection = op.get_bind()
    counts: dict[int, list[int]] = defaultdict(list)
    rows = connection.execute(
        sa.text(
            "SELECT image_id, count(*) FROM image_votes WHERE mood IS NOT NULL"
            " GROUP BY image_id, mood"
        )
    )
    for image_id, votes in rows:
        counts[image_id].append(votes)
    tops = []
    for image_id, per_mood in counts.items():
        ordered = sorted(per_mood, reverse=True) + [0]
        tops.append({"id": image_id, "top": ordered[0], "second": ordered[1]})
    if tops:
        connection.execute(
            sa.text("UPDATE images SET top_votes = :top, second_votes = :second WHERE id = :id"),
            tops,
        )


def downgrade() -> None:
    op.drop_column("images", "second_votes")  # SQLite 3.35+: DROP COLUMN, no table copy
    op.drop_column("images", "top_votes")
    op.drop_index(op.f("ix_queue_scores_model_id"), table_name="queue_scores")
    op.drop_table("queue_scores")
    op.drop_table("queue_orders")
