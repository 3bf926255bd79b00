"""guidelines versions and answer changes

The lab's annotation guidelines, versioned (guideline_versions, one row a published
version; guideline_reads, the newest version each user confirmed reading), the version
each vote was given under (image_votes.guidelines_version; NULL for votes made before
this revision and for imported ones), and every change of an answer (answer_changes:
given, changed, withdrawn, undone), which undo reads (moodlab/votes/annotation.py).

archived_votes keeps the version of each vote a send-back archives. image_votes and
archived_votes get their column by a plain ADD COLUMN, never batch mode (no table copy).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 06:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guideline_reads",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_guideline_reads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_guideline_reads")),
    )
    op.create_table(
        "guideline_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("moods", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_guideline_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_guideline_versions")),
    )
    op.create_table(
        "answer_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before_answered", sa.Boolean(), nullable=False),
        sa.Column("before_mood", sa.String(length=32), nullable=True),
        sa.Column("after_answered", sa.Boolean(), nullable=False),
        sa.Column("after_mood", sa.String(length=32), nullable=True),
        sa.Column("guidelines_version", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["users.id"],
            name=op.f("fk_answer_changes_annotator_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_answer_changes_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_changes")),
    )
    with op.batch_alter_table("answer_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_answer_changes_annotator_id_id", ["annotator_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_answer_changes_image_id"), ["image_id"], unique=False)

    op.add_column("image_votes", sa.Column("guidelines_version", sa.Integer(), nullable=True))
    op.add_column("archived_votes", sa.Column("guidelines_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("archived_votes", "guidelines_version")
    op.drop_column("image_votes", "guidelines_version")  # SQLite 3.35+: no table copy

    with op.batch_alter_table("answer_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_changes_image_id"))
        batch_op.drop_index("ix_answer_changes_annotator_id_id")

    op.drop_table("answer_changes")
    op.drop_table("guideline_versions")
    op.drop_table("guideline_reads")
