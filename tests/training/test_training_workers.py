"""Two real worker processes on PostgreSQL train parts of one run at the same time.

Runs in the PostgreSQL pass (`.ci/with-postgres make test-postgres`); the workers are
`python -m moodlab worker` processes, as on two machines sharing the database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moodlab.core.models import Job, JobStatus, TrainedModel
from moodlab.training.actions import start_training
from moodlab.training.runs import TrainParams
from tests.test_faults import start_worker, stop, wait_for
from tests.training.test_training_run import small, snapshot_id  # noqa: F401 (a fixture)


@pytest.mark.postgresql_only
def test_two_workers_train_parts_of_one_run_at_the_same_time(
    database,
    settings,
    env,
    lead,
    snapshot_id,  # noqa: F811
):
    params = TrainParams(**small(snapshot_id, arch="plain", folds=2, epochs=20))
    with database.session() as session:
        run_id = start_training(session=session, actor=lead, settings=settings, params=params).id
    workers = [start_worker(), start_worker()]
    try:
        wait_for(lambda: JobStatus(_job(database, run_id).status).finished, 600)
    finally:
        for worker in workers:
            stop(worker)
    run = _job(database, run_id)
    assert run.status == JobStatus.SUCCEEDED, run.error
    with database.session() as session:
        parts = session.scalars(select(Job).where(Job.parent_id == run_id).order_by(Job.id)).all()
        assert session.scalars(select(TrainedModel)).one().job_id == run_id
    folds = [p for p in parts if p.kind == "train_fold"]
    assert len(folds) == 2 and len(parts) == 3  # and the final model
    assert all(p.status == JobStatus.SUCCEEDED for p in parts)
    # The parts ran on both workers, and two of them, on different workers, at once: each
    # started before the other finished. Which worker takes which part depends on speed:
    # a worker that has fitted the architecture once fits it again without tracing
    # (moodlab.training.kept_models), so one worker may take both folds.
    assert len({p.worker for p in parts}) == 2
    assert any(
        a.worker != b.worker and max(a.started_at, b.started_at) < min(a.finished_at, b.finished_at)
        for a in parts
        for b in parts
    ), [(p.kind, p.worker, p.started_at, p.finished_at) for p in parts]
    assert [f["fold"] for f in run.result["folds"]] == [1, 2]
    assert [f["worker"] for f in run.result["folds"]] == [p.worker for p in folds]


def _job(database, job_id: int) -> Job:
    with database.session() as session:
        return session.get(Job, job_id)
