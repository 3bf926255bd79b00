"""A training run spread over workers: a job per fold and one for the final model.

Real Keras on the small generated snapshot; the worker is a real JobWorker (in a
thread here, or this process's own inline run).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from sqlalchemy import select

from moodlab.core.models import Job, JobStatus, TrainedModel
from moodlab.job_kinds import KINDS
from moodlab.jobs import queue as jobs
from moodlab.jobs.context import JobContext
from moodlab.jobs.worker import JobWorker, run_here
from moodlab.training.actions import start_training
from moodlab.training.runs import FinalParams, FoldParams, TrainParams
from tests.conftest import log_of
from tests.training.test_training_run import small, snapshot_id  # noqa: F401 (a fixture)


def parts_of(database, run_id: int) -> list[Job]:
    with database.session() as session:
        return list(session.scalars(select(Job).where(Job.parent_id == run_id).order_by(Job.id)))


def status_of(database, job_id: int) -> str:
    with database.session() as session:
        return session.get(Job, job_id).status


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_a_run_is_a_job_per_fold_and_one_for_the_final_model(
    database,
    settings,
    lead,
    snapshot_id,  # noqa: F811
):
    params = TrainParams(**small(snapshot_id))
    with database.session() as session:
        run = start_training(session=session, actor=lead, settings=settings, params=params)
    done = run_here(settings, database, run, kinds=KINDS)  # no worker: this process runs every part
    assert done.status == JobStatus.SUCCEEDED, done.error
    parts = parts_of(database, run.id)
    # The final model first: the longest part, started first (docs/architecture.md, "Jobs").
    assert [p.kind for p in parts] == ["train_final"] + ["train_fold"] * 3
    final, parts = parts[0], parts[1:]
    assert [p.params.get("fold") for p in parts] == [1, 2, 3]
    assert all(p.status == JobStatus.SUCCEEDED and p.worker == done.worker for p in [final, *parts])
    assert done.progress == 1.0
    # The run's result and model report keep their shape, each fold naming its job.
    assert [f["fold"] for f in done.result["folds"]] == [1, 2, 3]
    assert [f["job"] for f in done.result["folds"]] == [p.id for p in parts]
    assert done.result["cv_scores"] == [p.result["accuracy"] for p in parts]
    with database.session() as session:
        model = session.scalars(select(TrainedModel)).one()
        assert model.job_id == run.id and model.path == final.result["path"]
        assert model.report["out_of_fold"]["images"] == 72  # every training image, once
    assert (settings.data_dir / model.path).exists()


def test_a_run_started_again_keeps_the_parts_finished_before(
    database,
    settings,
    lead,
    snapshot_id,  # noqa: F811
):
    params = TrainParams(**small(snapshot_id))
    with database.session() as session:
        run = start_training(session=session, actor=lead, settings=settings, params=params)
    # The parts as a first try left them (its worker then died): fold 1 done.
    context = JobContext(database, run.id, settings=settings, actor=lead)
    fields = params.__dict__
    context.add_parts([*(FoldParams(**fields, fold=k) for k in (1, 2, 3)), FinalParams(**fields)])
    assert not context.add_parts([FinalParams(**fields)])  # queued once only
    fold_1 = parts_of(database, run.id)[0]
    with database.session() as session:
        kept = session.get(Job, fold_1.id)
        record = {"fold": 1, "accuracy": 0.25, "updates": 9, "history": [], "out_of_fold": []}
        jobs.finish(kept, JobStatus.SUCCEEDED)
        kept.result = record
    done = run_here(settings, database, run, kinds=KINDS)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.result["cv_scores"][0] == 0.25  # kept, not trained again
    assert len(done.result["cv_scores"]) == 3
    assert "the parts finished before are kept" in log_of(database, done.id)
    parts = parts_of(database, run.id)
    assert len(parts) == 4 and parts[0].attempts == 0 and not log_of(database, parts[0].id)


def test_cancelling_a_run_stops_all_its_parts(
    database,
    settings,
    lead,
    snapshot_id,  # noqa: F811
):
    fast = replace(
        settings, job_heartbeat_seconds=0.2, job_stale_seconds=2, worker_poll_seconds=0.1
    )
    params = TrainParams(**small(snapshot_id, arch="plain", epochs=200))
    with database.session() as session:
        run_id = start_training(session=session, actor=lead, settings=fast, params=params).id
    worker = JobWorker(fast, database, name="test-worker", kinds=KINDS)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: any(p.progress > 0 for p in parts_of(database, run_id)), 300)
        with database.session() as session:
            jobs.request_cancel(session=session, actor=lead, job_id=run_id)
        with database.session() as session:  # the queued parts at once
            queued = session.scalars(select(Job).where(Job.parent_id == run_id)).all()
            assert not [p for p in queued if p.status == JobStatus.QUEUED]
        wait_for(lambda: JobStatus(status_of(database, run_id)).finished, 120)
    finally:
        worker.stop_event.set()
        thread.join(timeout=120)
    with database.session() as session:
        run = session.get(Job, run_id)
        assert run.status == JobStatus.CANCELLED
        assert not session.scalars(select(TrainedModel)).all()
    parts = parts_of(database, run_id)
    assert {p.status for p in parts} == {JobStatus.CANCELLED}
    assert parts[0].started_at is not None  # the running part (the final model) was stopped
    assert all(p.started_at is None for p in parts[1:])  # the others never started
