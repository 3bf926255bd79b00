"""Exports a paper can cite: labels with provenance, votes with who and when, balancing,
and a datasheet, in the zip and from the command line."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from sqlalchemy import select, update

from moodlab.core.models import Image, ImageVote, Role
from moodlab.datasets.export import export
from moodlab.images.importer import ImportParams
from moodlab.images.intake import Provenance
from moodlab.votes import annotation, rounds
from tests import media
from tests.conftest import add_user, run_cli, run_job
from tests.datasets.test_datasets import Lab

CRAWLED = "https://pictures.example.org/sea/wave.jpg"


@pytest.fixture
def lab(database, settings):
    return Lab(
        database, settings, [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(1, 5)]
    )


def _vote(lab: Lab, image_id: int, *answers: str) -> None:
    for person, mood in zip(lab.annotators, answers, strict=True):
        with lab.database.session() as session:
            annotation.answer(session=session, actor=person, image_id=image_id, mood=mood)


def _pool(lab: Lab, lead, tmp_path) -> dict[str, int]:
    """A crawled image, two imported ones and four more; Happy unanimous, Tired 3-1."""
    crawled = lab.intake.add_bytes(
        media.jpeg(7001),
        Provenance(
            source=CRAWLED,
            source_url=CRAWLED,
            page_url="https://pictures.example.org/sea/",
            alt_text="a wave at dusk",
            license="CC BY 4.0",
            attribution='=HYPERLINK("x") by Ana',
        ),
    )
    folder = tmp_path / "holiday"
    (folder / "beach").mkdir(parents=True)
    (folder / "beach" / "IMG_0001.jpg").write_bytes(media.jpeg(7002))
    (folder / "IMG_0002.jpg").write_bytes(media.jpeg(7003))
    job = run_job(lab.settings, lab.database, lead, ImportParams(path=str(folder)))
    with lab.database.session() as session:
        imported = {
            image.original_name: image.id
            for image in session.scalars(select(Image).where(Image.job_id == job.id))
        }
    # A folder import keeps each file's path on the server.
    assert set(imported) == {str(folder / "beach" / "IMG_0001.jpg"), str(folder / "IMG_0002.jpg")}
    happy = [crawled, *imported.values(), *(lab.image() for _ in range(2))]
    for image_id in happy:
        _vote(lab, image_id, "Happy", "Happy", "Happy", "Happy")
    tired = [lab.image() for _ in range(2)]
    for image_id in tired:
        _vote(lab, image_id, "Tired", "Tired", "Tired", "Happy")
    return {
        "crawled": crawled,
        "job": job.id,
        "beach": imported[str(folder / "beach" / "IMG_0001.jpg")],
    }


def _read(out):
    with zipfile.ZipFile(out) as archive:
        labels = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
        votes = list(csv.DictReader(io.StringIO(archive.read("votes.csv").decode())))
        as_json = json.loads(archive.read("labels.json"))
        sheet = archive.read("datasheet.md").decode()
        names = archive.namelist()
    return labels, votes, as_json, sheet, names


def test_export_carries_provenance_votes_balancing_and_a_datasheet(lab, lead, tmp_path):
    ids = _pool(lab, lead, tmp_path)
    snapshot_id, _ = lab.freeze(lead, seed=4)
    out = tmp_path / "set.zip"
    with lab.database.session() as session:
        report = export(
            session=session, actor=lead, settings=lab.settings, snapshot_id=snapshot_id, out=out
        )
    labels, votes, as_json, sheet, names = _read(out)

    assert len(labels) == 7 and all(row["path"] in names for row in labels)
    by_id = {int(row["image_id"]): row for row in labels}
    crawled = by_id[ids["crawled"]]
    assert crawled["source_url"] == CRAWLED
    assert crawled["page_url"] == "https://pictures.example.org/sea/"
    assert (crawled["license"], crawled["alt_text"]) == ("CC BY 4.0", "a wave at dusk")
    assert crawled["attribution"].startswith("'=HYPERLINK")  # no formula in a spreadsheet
    imported = by_id[ids["beach"]]
    assert imported["original_name"] == str(tmp_path / "holiday" / "beach" / "IMG_0001.jpg")
    assert imported["source_url"] == ""
    assert (imported["job_id"], imported["job_kind"]) == (str(ids["job"]), "import")

    # Balancing: a cap of 2 (Tired's count) sends three unanimous Happy images to test.
    moved = [row for row in labels if row["moved_by_balancing"] == "True"]
    assert len(moved) == 3 and {row["label"] for row in moved} == {"Happy"}
    assert all(row["split"] == "test" and row["unanimous"] == "True" for row in moved)
    assert report["balancing"]["unanimous_in_test_total"] == 3
    assert as_json["balancing"]["moved_to_test"] == {"Happy": 3}
    assert as_json["tier_rules"]["train_quorum"] == 3 and "2-2" in as_json["tier_rules"]["disputed"]
    assert [row["sha256"] for row in as_json["images"]] == [row["sha256"] for row in labels]
    assert as_json["images"][0]["votes"] == json.loads(labels[0]["votes"])

    assert len(votes) == 28 and {row["annotator"] for row in votes} == {"a1", "a2", "a3", "a4"}
    assert all(row["voted_at"].endswith("+00:00") and row["round"] == "1" for row in votes)
    tired = [row for row in votes if row["mood"] == "Tired"]
    assert len(tired) == 6

    assert f"# Datasheet: moodlab dataset snapshot #{snapshot_id}" in sheet
    assert "3 train-tier images moved to test (Happy 3)" in sheet
    assert "3 test images are unanimous" in sheet
    assert "| pictures.example.org | 1 |" in sheet
    assert "| CC BY 4.0 | 1 |" in sheet and "| not stated | 6 |" in sheet
    assert "| import | 2 |" in sheet and "28 votes and 0 skips by 4 annotators" in sheet


def test_votes_sent_back_after_the_snapshot_are_exported_as_frozen(lab, lead, tmp_path):
    ids = _pool(lab, lead, tmp_path)
    snapshot_id, _ = lab.freeze(lead, seed=4)
    with lab.database.session() as session:
        rounds.send_back(session=session, actor=lead, image=ids["crawled"], reason="a new look")
    _vote(lab, ids["crawled"], "Peaceful", "Peaceful", "Peaceful", "Peaceful")
    out = tmp_path / "set.zip"
    with lab.database.session() as session:
        export(session=session, actor=lead, settings=lab.settings, snapshot_id=snapshot_id, out=out)
    labels, votes, *_ = _read(out)
    sha = next(row["sha256"] for row in labels if int(row["image_id"]) == ids["crawled"])
    frozen = [row for row in votes if row["sha256"] == sha]
    assert [(row["mood"], row["round"]) for row in frozen] == [("Happy", "1")] * 4


def test_datasheet_command(env, lab, lead, tmp_path):
    _pool(lab, lead, tmp_path)
    snapshot_id, _ = lab.freeze(lead, seed=4)
    printed = run_cli("dataset", "datasheet", str(snapshot_id))
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith(f"# Datasheet: moodlab dataset snapshot #{snapshot_id}")
    out = tmp_path / "sheet.md"
    written = run_cli("dataset", "datasheet", str(snapshot_id), "--out", str(out), "--json")
    assert json.loads(written.stdout)["output"] == str(out.resolve())
    assert out.read_text() == printed.stdout
    missing = run_cli("dataset", "datasheet", "999")
    assert missing.returncode == 1 and "no dataset snapshot with id 999" in missing.stderr


def test_each_exported_vote_names_the_guidelines_version_it_was_given_under(lab, lead, tmp_path):
    ids = _pool(lab, lead, tmp_path)
    with lab.database.session() as session:
        # An answer from before versions were kept has none.
        session.execute(
            update(ImageVote)
            .where(ImageVote.image_id == ids["beach"])
            .values(guidelines_version=None)
        )
    snapshot_id, _ = lab.freeze(lead, seed=4)
    out = tmp_path / "set.zip"
    with lab.database.session() as session:
        export(session=session, actor=lead, settings=lab.settings, snapshot_id=snapshot_id, out=out)
    labels, votes, *_ = _read(out)
    beach = next(row["sha256"] for row in labels if int(row["image_id"]) == ids["beach"])
    assert {row["guidelines_version"] for row in votes if row["sha256"] == beach} == {""}
    assert {row["guidelines_version"] for row in votes if row["sha256"] != beach} == {"1"}
