"""track seed as a 64-bit integer

Generated tracks' seeds are unsigned 32-bit numbers (up to 4,294,967,295): they fit
SQLite's INTEGER but overflow PostgreSQL's, which is signed 32-bit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 05:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.alter_column(
            "seed", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True
        )


def downgrade() -> None:
    # Seeds of 2**31 and over do not fit a 32-bit column: those tracks lose their seed
    # (and so count as added, not generated) rather than fail the downgrade.
    op.execute("UPDATE tracks SET seed = NULL WHERE seed > 2147483647")
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.alter_column(
            "seed", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True
        )
