"""Crashes and full disks: a killed worker's jobs are recovered, files are whole, rows sound.

The worker runs as a real process that is killed with SIGKILL (no chance to clean
up) in the middle of real work; a second worker then takes over.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image as PILImage
from sqlalchemy import select, text

from moodlab.core.models import Image, Job, JobStatus, TrainedModel
from moodlab.core.storage import ContentStore
from moodlab.images.actions import start_crawl
from moodlab.images.crawl import CrawlParams
from moodlab.images.intake import display_path, thumbnail_path
from moodlab.jobs import queue as jobs
from moodlab.training.runs import TrainParams
from tests import media
from tests.conftest import ROOT, log_of, run_cli
from tests.fixture_site import Site
from tests.training.test_training_run import small, snapshot_id  # noqa: F401 (a fixture)

# Heartbeats every 0.2 s; a job silent for 2 s is recovered.
FAST = {"MOODLAB_JOB_HEARTBEAT_SECONDS": "0.2", "MOODLAB_JOB_STALE_SECONDS": "2"}


def start_worker() -> subprocess.Popen:
    env = {**os.environ, **FAST, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "moodlab", "worker"], cwd=ROOT, env=env)


def kill(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait()


def stop(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0


def kill_a_worker_when(database, job_id, predicate, timeout: float) -> Job:
    """Start a worker, SIGKILL it once ``predicate(job)`` holds; the job as it was left."""
    victim = start_worker()
    try:
        wait_for(lambda: predicate(job(database, job_id)), timeout)
    finally:
        kill(victim)
    orphan = job(database, job_id)
    assert orphan.status == JobStatus.RUNNING  # nobody has noticed yet
    return orphan


def recovered_by_a_new_worker(database, job_id, timeout: float) -> Job:
    """Start another worker and wait: the silent job is re-queued and run to success."""
    rescuer = start_worker()
    try:
        wait_for(lambda: JobStatus(job(database, job_id).status).finished, timeout)
    finally:
        stop(rescuer)
    done = job(database, job_id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and "[recovered] re-queued" in log_of(database, done.id)
    return done


def job(database, job_id) -> Job:
    with database.session() as session:
        return session.get(Job, job_id)


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def jobs_page(actor) -> str:
    """The Jobs page's text as a newly started app shows it."""
    from tests.test_pages import app, texts

    at = app(actor)
    at.switch_page("pages/jobs.py").run()
    assert not at.exception
    return texts(at)


def assert_no_temporary_files(root) -> None:
    leftovers = [p for p in root.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert not leftovers, leftovers


def assert_store_is_sound(settings, database) -> int:
    """Every image row has its three files, whole; an SQLite file checks out."""
    store = ContentStore(settings.data_dir)
    with database.session() as session:
        if session.get_bind().dialect.name == "sqlite":  # the file is ours to check
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        images = session.scalars(select(Image)).all()
        for image in images:
            original = store.path_for(image.sha256, image.original_suffix)
            assert hashlib.sha256(original.read_bytes()).hexdigest() == image.sha256
            for derived in (display_path(store, image.sha256), thumbnail_path(store, image.sha256)):
                PILImage.open(derived).load()  # decodes to the end: not truncated
    assert_no_temporary_files(settings.data_dir)
    return len(images)


def test_a_crawl_killed_mid_way_is_recovered_and_stores_each_image_once(
    database, settings, env, lead, monkeypatch
):
    for key, value in FAST.items():  # the pages read the same heartbeat settings
        monkeypatch.setenv(key, value)
    site = Site(latency=0.15)
    images = "".join(f'<img src="/img/{i}.jpg">' for i in range(30))
    site.page("/", images)
    for i in range(30):
        site.add(f"/img/{i}.jpg", media.jpeg(i, (200, 150)), "image/jpeg")
    site.start()
    try:
        with database.session() as session:
            params = CrawlParams(seeds=[site.url("/")], allow_private=True, delay=0.0)
            job_id = start_crawl(session=session, actor=lead, settings=settings, params=params).id
        kill_a_worker_when(database, job_id, lambda j: (j.result or {}).get("stored", 0) >= 5, 120)
        stored_before = assert_store_is_sound(settings, database)
        assert 5 <= stored_before < 30
        time.sleep(1)  # five missed heartbeats
        # A freshly started app reads the truth from the job table: the job is not done,
        # and its worker has gone quiet.
        assert "No heartbeat from worker" in jobs_page(lead)

        recovered_by_a_new_worker(database, job_id, 120)
    finally:
        site.stop()
    assert "No heartbeat" not in jobs_page(lead) and "succeeded" in jobs_page(lead)
    assert assert_store_is_sound(settings, database) == 30  # none lost, none twice


def test_a_training_run_killed_mid_way_resumes_at_the_next_fold(
    database,
    settings,
    env,
    lead,
    snapshot_id,  # noqa: F811
):
    with database.session() as session:
        job_id = jobs.enqueue(
            session=session,
            actor=lead,
            settings=settings,
            params=TrainParams(**small(snapshot_id, epochs=3)),
        ).id

    # Each fold is a job of its own: kill the worker while it trains fold 2, fold 1 done.
    def fold_2_under_way(run: Job) -> bool:
        with database.session() as session:
            parts = session.scalars(select(Job).where(Job.parent_id == job_id)).all()
        # Running, not "progress > 0": 3 short epochs are one Keras epoch, reported at its end.
        fold_2 = [p for p in parts if p.params.get("fold") == 2 and p.status == JobStatus.RUNNING]
        return bool((run.result or {}).get("folds")) and bool(fold_2)

    orphan = kill_a_worker_when(database, job_id, fold_2_under_way, 300)
    first_fold = orphan.result["folds"][0]
    done = recovered_by_a_new_worker(database, job_id, 300)
    # Kept, not trained again (the final result moves the out-of-fold rows to the report).
    kept = {k: v for k, v in first_fold.items() if k != "out_of_fold"}
    assert done.result["folds"][0] == kept
    assert log_of(database, done.id).count("fold 1 of 3: validation accuracy") == 1
    with database.session() as session:
        parts = session.scalars(select(Job).where(Job.parent_id == job_id).order_by(Job.id)).all()
    assert [p.status for p in parts] == [JobStatus.SUCCEEDED] * 4
    # The final model and fold 1 ran once (the final model is queued first); fold 2,
    # killed with its worker, was re-queued and trained again.
    assert [p.params.get("fold") for p in parts] == [None, 1, 2, 3]
    assert [p.attempts for p in parts] == [1, 1, 2, 1]
    assert "[recovered] re-queued" in log_of(database, parts[2].id)
    models_dir = settings.data_dir / "models"
    assert_no_temporary_files(models_dir)
    with database.session() as session:
        model = session.scalars(select(TrainedModel)).one()
    import keras  # here, not at the top: collecting the suite would import TensorFlow

    keras.models.load_model(settings.data_dir / model.path)  # a whole file


@pytest.fixture
def small_data_dir(tmp_path, monkeypatch):
    """A function: MOODLAB_DATA_DIR on a real 2 MiB file system, full but for ``room``
    bytes (whole 4 KiB pages)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small-disk"

    def make(room: int = 0):
        mount.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
        (mount / "data").mkdir()
        reserve = mount / "reserve"
        reserve.write_bytes(b"\1" * room)  # held while the rest fills, then given back
        filler = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(filler)
        reserve.unlink()
        monkeypatch.setenv("MOODLAB_DATA_DIR", str(mount / "data"))
        return mount / "data"

    yield make
    if mount.is_dir() and os.path.ismount(mount):
        subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def full_data_dir(small_data_dir):
    """MOODLAB_DATA_DIR on a real 2 MiB file system that is already full."""
    return small_data_dir(0)


def files_under(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_a_full_disk_gives_a_clear_error_and_stores_nothing(database, tmp_path, full_data_dir):
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(media.jpeg(1, (400, 300)))
    result = run_cli("import", str(folder))
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert "no space left on the device" in last_line, result.stderr
    assert "Traceback" not in result.stderr
    with database.session() as session:
        assert session.scalars(select(Image)).all() == []
    assert not files_under(full_data_dir)  # not even a part


def test_an_original_stored_before_the_disk_filled_goes_with_its_image(
    database, tmp_path, small_data_dir
):
    # Room for the original and not a byte more: its display copy (a PNG's is a JPEG
    # made from it) finds the disk full.
    original = media.png(2, (400, 300))
    data_dir = small_data_dir(room=-(-len(original) // 4096) * 4096)
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "b.png").write_bytes(original)
    result = run_cli("import", str(folder))
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    # The original was written: it was the display copy that found no room.
    assert "no space left on the device writing" in last_line, result.stderr
    assert f"{os.sep}display{os.sep}" in last_line, result.stderr
    with database.session() as session:
        assert session.scalars(select(Image)).all() == []
    assert not files_under(data_dir)  # no original without its row
    assert run_cli("worker", "--once").returncode == 0
    assert not files_under(data_dir)


def test_a_video_job_killed_mid_way_is_recovered_with_one_whole_output(
    database, settings, env, lead, tmp_path
):
    from moodlab.core.models import Video
    from moodlab.video import probe
    from moodlab.video.request import VideoParams
    from tests.video_media import SHOTS, clip, register_tiny_model, tracks_for_every_mood

    register_tiny_model(database, settings)
    tracks_for_every_mood(database, settings)
    source = clip(tmp_path / "long.mp4", [(SHOTS[0], 60), (SHOTS[1], 60)], size="320x180")
    params = VideoParams(inputs=[str(source)], sample_fps=10)
    with database.session() as session:
        job_id = jobs.enqueue(session=session, actor=lead, settings=settings, params=params).id
    kill_a_worker_when(database, job_id, lambda j: "predicted" in (j.message or ""), 120)
    assert_no_temporary_files(settings.data_dir / "videos")
    done = recovered_by_a_new_worker(database, job_id, 300)
    with database.session() as session:
        assert len(session.scalars(select(Video)).all()) == 1  # no row from the first try
    output = probe.probe(done.result["output"])
    assert output.duration_s == pytest.approx(120, abs=0.2)
    assert_no_temporary_files(settings.data_dir)
