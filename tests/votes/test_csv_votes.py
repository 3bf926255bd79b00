"""The votes CSV import: batches, idempotent re-runs, refusals, and voting during an import."""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import func, insert, select

from moodlab.core import moods
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Image, ImageVote, Role
from moodlab.core.timeutil import utcnow
from moodlab.votes import annotation, csv_votes
from tests.conftest import add_user


def add_images(database, n: int, start: int = 1) -> list[int]:
    now = utcnow()
    with database.session() as session:
        session.execute(
            insert(Image),
            [
                {
                    "sha256": f"{i:064x}",
                    "width": 200,
                    "height": 200,
                    "created_at": now,
                    "phash": "",
                    "original_suffix": ".jpg",
                    "response_count": 0,
                }
                for i in range(start, start + n)
            ],
        )
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


def _import_from(url: str, lead, path, batch_rows: int, out: dict) -> None:
    """The import as its own connection (a thread standing in for the CLI's process)."""
    database = Database(url)
    try:
        with database.session() as session:
            out["report"] = csv_votes.import_votes(
                session=session, actor=lead, path=path, batch_rows=batch_rows
            )
    except BaseException as exc:  # the test thread reports it
        out["error"] = exc
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))  # a writer waiting: let it on
    finally:
        database.dispose()


def _cast(database, settings, voter, image_ids: list[int]) -> list[str]:
    """Votes through the page's path (apply_outbox, retried while locked); their errors."""
    errors = []
    for n, image_id in enumerate(image_ids):
        outbox = annotation.Outbox()
        entry = {"seq": 1, "image_id": image_id, "mood": moods.names()[n % 8]}
        annotation.apply_outbox(
            session_factory=database.session,
            actor=voter,
            outbox=outbox,
            entries=[entry],
            settings=settings,
        )
        if outbox.error:
            errors.append(outbox.error)
    return errors


def _votes_of(database, annotator_id: int | None = None) -> int:
    query = select(func.count()).select_from(ImageVote)
    if annotator_id is not None:
        query = query.where(ImageVote.annotator_id == annotator_id)
    with database.session() as session:
        return session.scalar(query)


@pytest.mark.sqlite_only
def test_votes_cast_while_an_import_is_mid_file_are_all_stored_and_none_is_lost(
    database, settings, lead, four, tmp_path
):
    """The import holds no lock between its batches, and no vote or row goes missing.

    The import reads a named pipe, so the test decides where it stands: after 3 of
    its batches are committed and half of the fourth is read, it waits for more
    input, mid-import, while 40 votes are cast; each must be stored at once (one
    that found SQLite locked for the whole retry would come back with an error,
    not stored). Then 40 more are cast while the rest of the file streams in.
    No clock is read: how fast votes go during an import is
    benchmarks/votes_import.py --vote.
    """
    batch, annotators = 1_000, ["a1", "a2", "a3", "a4"]
    import_ids = add_images(database, 2_500)  # 10,000 lines, 10 batches
    vote_ids = add_images(database, 80, start=20_000)
    write_votes(tmp_path / "all.csv", import_ids, annotators)
    lines = (tmp_path / "all.csv").read_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    pipe = tmp_path / "votes.csv"
    os.mkfifo(pipe)
    out: dict = {}
    importer = threading.Thread(
        target=_import_from, args=(settings.database_url, lead, pipe, batch, out)
    )
    importer.start()
    with open(pipe, "w", encoding="utf-8") as feed:  # opens once the import opens it
        feed.write(header + "".join(rows[: 3 * batch + batch // 2]))
        feed.flush()
        for _ in range(3_000):  # until 3 batches are committed (a wait, not a speed check)
            if _votes_of(database) == 3 * batch or out:
                break
            time.sleep(0.1)
        assert _votes_of(database) == 3 * batch, out
        assert _cast(database, settings, four[4], vote_ids[:40]) == []
        assert _votes_of(database, four[4].id) == 40  # stored while the import waits
        assert importer.is_alive() and _votes_of(database) == 3 * batch + 40
        voter = threading.Thread(
            target=lambda: out.update(errors=_cast(database, settings, four[4], vote_ids[40:]))
        )
        voter.start()
        feed.write("".join(rows[3 * batch + batch // 2 :]))
    importer.join(timeout=600)
    voter.join(timeout=600)
    assert not importer.is_alive() and not voter.is_alive()
    assert "error" not in out, out.get("error")
    assert out["errors"] == []
    report = out["report"]
    assert (report.imported, report.batches, report.rejected) == (10_000, 10, [])
    assert _votes_of(database, four[4].id) == 80
    assert _votes_of(database) == 10_080
    with database.session() as session:
        counts = dict(session.execute(select(Image.id, Image.response_count)).all())
    assert {counts[i] for i in import_ids} == {4} and {counts[i] for i in vote_ids} == {1}


def test_a_byte_that_is_not_utf8_in_the_last_batch_is_its_lines_rejection(
    database, lead, four, tmp_path
):
    """5,406 lines, bad bytes on lines 5,300 and 5,406 (the second batch: 5,002-5,406).

    Before, the decoder raised at the chunk it read ahead: "cannot read ... after line
    5390 ... the lines before it were imported", and lines 5,002-5,390 were never
    committed. Now each such line is refused by its own number and the rest is stored.
    """
    ids = add_images(database, 1352)
    names = moods.names()
    rows = [
        f"{image:064x},a{n + 1},{names[(image + n) % 8]}".encode()
        for image in ids
        for n in range(4)
    ][:5405]  # lines 2-5406
    bad = {5300: 1, 5406: 4}  # line -> the annotator whose name gets the byte
    for line, n in bad.items():
        image = ids[(line - 2) // 4]
        rows[line - 2] = f"{image:064x},a".encode() + b"\xe9" + f"{n},Happy".encode()
    (tmp_path / "v.csv").write_bytes(b"image,annotator,mood\n" + b"\n".join(rows) + b"\n")
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, path=tmp_path / "v.csv")
    reason = "not UTF-8 (byte 0xE9 at column 67): this line was not imported"
    assert report.rejected == [{"line": 5300, "reason": reason}, {"line": 5406, "reason": reason}]
    assert (report.imported, report.batches) == (5403, 2)
    assert _votes_of(database) == 5403


def test_a_header_that_is_not_utf8_imports_nothing_and_says_so(database, lead, tmp_path):
    (tmp_path / "v.csv").write_bytes(b"image,annot\xffator,mood\n" + b"x,a1,Happy\n")
    refused = pytest.raises(MoodlabError, match="header is not UTF-8.*nothing was imported")
    with refused, database.session() as session:
        csv_votes.import_votes(session=session, actor=lead, path=tmp_path / "v.csv")


def _deactivate(database, name: str) -> None:
    from moodlab.core import auth
    from moodlab.core.auth import Actor

    with database.session() as session:
        auth.set_active(session=session, actor=Actor.command_line(), name=name, active=False)


def test_a_deactivated_annotators_votes_are_refused_by_name_unless_asked_for(
    database, lead, four, tmp_path
):
    """Before, the import stored them although the Annotate page refuses that account."""
    ids = add_images(database, 3)
    write_votes(tmp_path / "v.csv", ids, ["a1", "a2"])  # lines 2-7; a2's are 3, 5, 7
    _deactivate(database, "a2")
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, path=tmp_path / "v.csv")
    reason = "annotator 'a2' is deactivated: their votes are not imported"
    assert [r["line"] for r in report.rejected] == [3, 5, 7]
    assert all(r["reason"].startswith(reason) for r in report.rejected)
    assert report.imported == 3 and report.deactivated == {}
    assert _votes_of(database, four[1].id) == 0
    with database.session() as session:
        report = csv_votes.import_votes(
            session=session, actor=lead, path=tmp_path / "v.csv", include_deactivated=True
        )
    assert (report.imported, report.unchanged, report.rejected) == (3, 3, [])
    assert report.as_dict()["deactivated"] == {"a2": 3}
    assert _votes_of(database, four[1].id) == 3


def test_the_import_command_takes_include_deactivated(env, database, lead, four, tmp_path):
    import json

    from tests.conftest import run_cli

    ids = add_images(database, 2)
    write_votes(tmp_path / "v.csv", ids, ["a1", "a3"])
    _deactivate(database, "a3")
    refused = json.loads(run_cli("votes", "import", str(tmp_path / "v.csv"), "--json").stdout)
    assert refused["imported"] == 2 and len(refused["rejected"]) == 2
    assert "'a3' is deactivated" in refused["rejected"][0]["reason"]
    taken = run_cli("votes", "import", str(tmp_path / "v.csv"), "--include-deactivated", "--json")
    assert json.loads(taken.stdout)["deactivated"] == {"a3": 2}
