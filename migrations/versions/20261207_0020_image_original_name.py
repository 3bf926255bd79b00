"""image original name

An imported or uploaded image keeps the name it came under (the path in the folder, or
zip:member), so an export can say where each image came from; crawled images have their
source URL. Images stored before this revision have none.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 06:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, no batch mode: a batch copies and drops `images`, and the tables
# that reference it with ON DELETE CASCADE (votes, rounds, exclusions) would lose rows.
def upgrade() -> None:
    op.add_column("images", sa.Column("original_name", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("images", "original_name")
