"""job engine: queues, retries, log lines, and Procrastinate's schema on PostgreSQL

jobs gets its queue (`training` or `io`, by kind: moodlab.jobs.queues), how often it
may be tried (max_attempts) and when it may run again after a passing error
(run_after); workers get the queues they serve and their concurrency; job_logs holds a
job's log lines, one row each (appended, never rewritten). On PostgreSQL, the job
engine's own tables and functions (Procrastinate 3.10.0, its schema.sql frozen in
migrations/procrastinate/) are created here, so `moodlab migrate` is the only set-up
step (docs/postgresql.md).

Plain ADD COLUMN and new tables only, never batch mode: on SQLite batch mode copies the
table, and dropping the old jobs table with foreign keys on deletes every part that
cascades from a job.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07 06:20:00.000000
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_SCHEMA = Path(__file__).parent.parent / "procrastinate" / "schema-3.10.0.sql"


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("queue", sa.String(length=64), server_default="io", nullable=False)
    )
    op.add_column(
        "jobs", sa.Column("max_attempts", sa.Integer(), server_default="2", nullable=False)
    )
    op.add_column("jobs", sa.Column("run_after", sa.DateTime(), nullable=True))
    op.create_index(op.f("ix_jobs_queue"), "jobs", ["queue"], unique=False)
    # Training parts go to the training queue (moodlab.jobs.queues' defaults).
    op.execute(
        "UPDATE jobs SET queue = 'training' WHERE kind IN ('train', 'train_fold', 'train_final')"
    )
    op.add_column(
        "workers", sa.Column("queues", sa.String(length=255), server_default="", nullable=False)
    )
    op.add_column(
        "workers", sa.Column("concurrency", sa.Integer(), server_default="1", nullable=False)
    )
    op.create_table(
        "job_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_logs_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_logs")),
    )
    op.create_index(op.f("ix_job_logs_job_id"), "job_logs", ["job_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # One script through the driver's own cursor, without parameters, so that its
        # `%` signs are not read as placeholders; in the migration's transaction.
        cursor = op.get_bind().connection.cursor()
        cursor.execute(PROCRASTINATE_SCHEMA.read_text())
        cursor.close()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DO $$ DECLARE f record; BEGIN"
            " FOR f IN SELECT oid::regprocedure AS sig FROM pg_proc"
            " WHERE proname LIKE 'procrastinate%' LOOP"
            " EXECUTE 'DROP FUNCTION IF EXISTS ' || f.sig || ' CASCADE'; END LOOP; END $$"
        )
        for table in ("events", "periodic_defers", "jobs", "workers"):
            op.execute(f"DROP TABLE IF EXISTS procrastinate_{table} CASCADE")
        for type_ in ("job_to_defer_v1", "job_event_type", "job_status"):
            op.execute(f"DROP TYPE IF EXISTS procrastinate_{type_} CASCADE")
    op.drop_index(op.f("ix_job_logs_job_id"), table_name="job_logs")
    op.drop_table("job_logs")
    with op.batch_alter_table("workers") as batch_op:
        batch_op.drop_column("concurrency")
        batch_op.drop_column("queues")
    op.drop_index(op.f("ix_jobs_queue"), table_name="jobs")
    op.drop_column("jobs", "run_after")
    op.drop_column("jobs", "max_attempts")
    op.drop_column("jobs", "queue")
