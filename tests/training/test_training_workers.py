"""Two real worker processes on PostgreSQL train two folds of one run at the same time.

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
def test_two_workers_train_two_folds_at_the_same_time(
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
    assert len(folds) == 2 and all(p.status == JobStatus.SUCCEEDED for p in folds)
    # The two folds ran on two workers, and their times overlapped: each started before
    # the other finished.
    assert len({p.worker for p in folds}) == 2
    assert max(p.started_at for p in folds) < min(p.finished_at for p in folds), [
        (p.worker, p.started_at, p.finished_at) for p in folds
    ]
    assert [f["fold"] for f in run.result["folds"]] == [1, 2]
    assert {f["worker"] for f in run.result["folds"]} == {p.worker for p in folds}


def _job(database, job_id: int) -> Job:
    with database.session() as session:
        return session.get(Job, job_id)
