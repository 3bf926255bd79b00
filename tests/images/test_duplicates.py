"""Near-duplicate rejections are held, shown beside the image they resemble, and kept on request."""

from __future__ import annotations

import json

import pytest

from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Image
from moodlab.images import duplicates
from moodlab.images.importer import ImportParams
from moodlab.images.intake import Intake, Provenance
from moodlab.jobs.queue import get_job
from tests import media
from tests.conftest import run_cli, run_job
from tests.images.mood_pictures import copies, mood_picture


def near_duplicate_job(settings, database, lead, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    original = mood_picture("Peaceful", 3)
    (first / "lake.jpg").write_bytes(original)
    (second / "lake-small.jpg").write_bytes(copies(original)["half"])
    (second / "other.jpg").write_bytes(media.jpeg(80))
    run_job(settings, database, lead, ImportParams(path=str(first)))
    return run_job(settings, database, lead, ImportParams(path=str(second)))


def test_a_near_duplicate_is_held_and_kept_both_on_request(
    settings, database, lead, annotator, tmp_path
):
    job = near_duplicate_job(settings, database, lead, tmp_path)
    assert (job.result["stored"], job.result["duplicates"]) == (1, 1)
    [held] = duplicates.near_duplicates(settings=settings, job=job)
    assert held.source.endswith("lake-small.jpg") and held.kept_as is None
    assert held.preview.is_file()  # the candidate's display copy, for side by side
    with database.session() as session:
        kept_before = session.get(Image, held.duplicate_of)
        assert kept_before is not None and kept_before.job_id != job.id

    with database.session() as session, pytest.raises(MoodlabError):
        duplicates.keep_both(
            session=session,
            actor=annotator,
            settings=settings,
            database=database,
            job_id=job.id,
            sha256=held.sha256,
        )
    with database.session() as session:
        image_id = duplicates.keep_both(
            session=session,
            actor=lead,
            settings=settings,
            database=database,
            job_id=job.id,
            sha256=held.sha256,
        )
    with database.session() as session:
        stored = session.get(Image, image_id)
        assert stored is not None and stored.sha256 == held.sha256 and stored.job_id == job.id
        again = get_job(session=session, actor=lead, job_id=job.id)
        [after] = duplicates.near_duplicates(settings=settings, job=again)
    assert after.kept_as == image_id and not held.preview.exists()
    with database.session() as session:  # a second press changes nothing
        assert (
            duplicates.keep_both(
                session=session,
                actor=lead,
                settings=settings,
                database=database,
                job_id=job.id,
                sha256=held.sha256,
            )
            == image_id
        )
    with database.session() as session, pytest.raises(NotFound):
        duplicates.keep_both(
            session=session,
            actor=lead,
            settings=settings,
            database=database,
            job_id=job.id,
            sha256="0" * 64,
        )


def test_keep_both_from_the_command_line(env, tmp_path):
    assert run_cli("migrate").returncode == 0
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    original = mood_picture("Tired", 4)
    (first / "x.jpg").write_bytes(original)
    (second / "x-q60.jpg").write_bytes(copies(original)["q60"])
    assert run_cli("import", str(first), "--json").returncode == 0
    result = run_cli("import", str(second), "--json")
    job_id = json.loads(result.stdout)["job_id"]
    listed = json.loads(run_cli("images", "near-duplicates", str(job_id), "--json").stdout)
    [entry] = listed["near_duplicates"]
    kept = run_cli("images", "keep-both", str(job_id), entry["sha256"], "--json")
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["image_id"] == 2


def test_a_crawl_holds_a_near_duplicate_of_an_image_still_being_stored(
    settings, database, lead, tmp_path
):
    # A crawl stages images (rows committed in batches): the colour-aware rule applies,
    # and a near-duplicate of a pending image is held and named once that has its id.
    job = near_duplicate_job(settings, database, lead, tmp_path)
    intake = Intake(settings, database, job_id=job.id)
    original = mood_picture("Tired", 5)
    assert intake.stage(intake.check(original), Provenance(source="first")) is True
    half = intake.check(copies(original)["half"])
    assert intake.stage(half, Provenance(source="copy")) is False
    [entry] = intake.report.duplicate_sources
    assert entry["duplicate_of"] == 0 and entry["held"] and "being stored" in entry["reason"]
    intake.flush()
    [image_id] = intake.report.image_ids
    assert entry["duplicate_of"] == image_id and f"of image {image_id} (" in entry["reason"]
    with database.session() as session:
        assert session.get(Image, image_id).colour_layout == intake.check(original).colour_layout
