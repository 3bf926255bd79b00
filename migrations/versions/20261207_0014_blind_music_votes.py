"""blind music votes: final track votes, a seed per user

A music vote can be undone only until the annotator leaves the track or sees a result
(track_votes.final_at, set then); a track's counts and status show to an annotator
only once their vote on it is final. Each user gets a random blind_seed, from which
their order of tracks to vote on and the names the tracks show them come
(moodlab/music/blind.py). Votes made before this revision are final (their counts
were already shown); existing users get a fresh seed.

users gets its column by a plain ADD COLUMN, never batch mode: on SQLite batch mode
copies the table, and dropping the old users table with foreign keys on deletes
every vote, session and job row that cascades from a user.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:00:00.000000
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("track_votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("final_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE track_votes SET final_at = updated_at")
    op.add_column("users", sa.Column("blind_seed", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.text("SELECT id FROM users")).all():
        connection.execute(
            sa.text("UPDATE users SET blind_seed = :seed WHERE id = :id"),
            {"seed": secrets.token_hex(16), "id": user_id},
        )


def downgrade() -> None:
    op.drop_column("users", "blind_seed")  # SQLite 3.35+: DROP COLUMN, no table copy
    with op.batch_alter_table("track_votes", schema=None) as batch_op:
        batch_op.drop_column("final_at")
