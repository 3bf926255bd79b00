"""The votes CSV import: batches, idempotent re-runs, refusals, and voting during an import."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from sqlalchemy import func, insert, select

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Image, ImageVote, Role
from moodlab.core.timeutil import utcnow
from moodlab.votes import annotation, csv_votes
from tests.conftest import add_user


def add_images(database, n: int, start: int = 1) -> list[int]:
    now = utcnow()
    with database.session() as session:
        session.execute(
            insert(Image),
            [{"sha256": f"{i:064x}", "width": 200, "height": 200, "created_at": now,
              "phash": "", "original_suffix": ".jpg", "response_count": 0}
             for i in range(start, start + n)],
        )  # fmt: skip
        newest = select(Image.id).order_by(Image.id.desc()).limit(n)
        return sorted(session.scalars(newest))


def write_votes(path, images: list[int], annotators: list[str]) -> None:
    names = moods.names()
    lines = ["image,annotator,mood"]
    lines += [
        f"{i:064x},{a},{names[(i + n) % 8]}" for i in images for n, a in enumerate(annotators)
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def four(database):
    return [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(1, 6)]


def test_an_import_commits_in_batches_and_a_rerun_changes_nothing(database, lead, four, tmp_path):
    ids = add_images(database, 6)
    write_votes(tmp_path / "v.csv", ids, ["a1", "a2", "a3"])
    with database.session() as session:
        first = csv_votes.import_votes(
            session=session, actor=lead, path=tmp_path / "v.csv", batch_rows=5
        ).as_dict()
    assert (first["imported"], first["changed"], first["unchanged"]) == (18, 18, 0)
    assert first["batches"] == 4 and first["rejected"] == []
    with database.session() as session:
        again = csv_votes.import_votes(
            session=session, actor=lead, path=tmp_path / "v.csv", batch_rows=5
        ).as_dict()
    assert (again["imported"], again["changed"], again["unchanged"]) == (0, 0, 18)
    with database.session() as session:
        assert set(session.scalars(select(Image.response_count))) == {3}


def test_an_import_keeps_the_quorum_and_changes_votes_in_place(database, lead, four, tmp_path):
    [image] = add_images(database, 1)
    sha = f"{image:064x}"
    rows = [f"{sha},a{i},Happy" for i in range(1, 6)] + [f"{sha},a1,Tired"]
    (tmp_path / "v.csv").write_text("image,annotator,mood\n" + "\n".join(rows) + "\n")
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, path=tmp_path / "v.csv")
    assert report.rejected == [{"line": 6, "reason": f"image '{sha}' already has its 4 answers"}]
    assert (report.imported, report.replaced) == (5, 0)  # a1's Tired is a change of a new row
    with database.session() as session:
        assert session.get(Image, image).response_count == 4
        assert (
            session.scalar(select(ImageVote.mood).where(ImageVote.annotator_id == four[0].id))
            == "Tired"
        )


def test_a_field_over_128_kib_is_that_lines_rejection_not_a_traceback(
    database, lead, four, tmp_path
):
    ids = add_images(database, 2)
    huge = "x" * (129 * 1024)
    (tmp_path / "v.csv").write_text(
        f"image,annotator,mood\n{ids[0]:064x},a1,Happy\n{huge},a1,Happy\n{ids[1]:064x},a2,Tired\n"
    )
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, path=tmp_path / "v.csv")
    assert report.imported == 2
    assert report.rejected == [
        {"line": 3, "reason": "unreadable CSV row: a field is longer than 128 KiB"}
    ]


def _import(url: str, lead, path, started, finished) -> None:
    database = Database(url)
    started.set()
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, path=path)
    finished.set()
    assert report.imported == 60_000, report.as_dict()
    database.dispose()


def _cast(url: str, voter, image_ids: list[int], started, finished, results) -> None:
    database = Database(url)
    settings = Settings.from_env()
    started.wait(120)
    waits = []
    for n, image_id in enumerate(image_ids):
        begin = time.perf_counter()
        outbox = annotation.Outbox()  # the page's path: apply_outbox, retried when locked
        entry = {"seq": 1, "image_id": image_id, "mood": moods.names()[n % 8]}
        annotation.apply_outbox(session_factory=database.session, actor=voter, outbox=outbox,
                                entries=[entry], settings=settings)  # fmt: skip
        waits.append((time.perf_counter() - begin, outbox.error, not finished.is_set()))
        time.sleep(0.03)
    database.dispose()
    results.put(waits)


@pytest.mark.sqlite_only
def test_votes_cast_during_a_60000_line_import_are_all_stored_quickly(
    database, settings, lead, four, tmp_path
):
    import_ids = add_images(database, 15_000)
    vote_ids = add_images(database, 100, start=20_000)
    write_votes(tmp_path / "big.csv", import_ids, ["a1", "a2", "a3", "a4"])
    context = multiprocessing.get_context("spawn")
    started, finished, results = context.Event(), context.Event(), context.Queue()
    url = settings.database_url
    importer = context.Process(
        target=_import, args=(url, lead, tmp_path / "big.csv", started, finished)
    )
    voter = context.Process(target=_cast, args=(url, four[4], vote_ids, started, finished, results))
    importer.start()
    voter.start()
    waits = results.get(timeout=600)
    voter.join(timeout=60)
    importer.join(timeout=600)
    assert importer.exitcode == 0 and voter.exitcode == 0
    assert [error for _, error, _ in waits if error] == []
    during = sum(1 for _, _, importing in waits if importing)
    assert during >= 10, f"only {during} votes were cast while the import ran"
    slowest = max(seconds for seconds, _, _ in waits)
    assert slowest < 2.0, f"a vote waited {slowest:.2f} s"
    with database.session() as session:
        mine = (
            select(func.count()).select_from(ImageVote).where(ImageVote.annotator_id == four[4].id)
        )
        assert session.scalar(mine) == 100
        assert session.scalar(select(func.count()).select_from(ImageVote)) == 60_100
