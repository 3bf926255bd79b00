"""Security: the service layer refuses what a role may not do, logins are throttled,
idle sessions end, uploaded names stay labels, and exports hold no formulas.

Tests elsewhere cover neighbouring ground: test_auth (user services, throttling in
the service), test_uploads and test_import (names in uploads and zips), test_pages
(an idle session expires) and tests/e2e/test_security_escaping.py (crawled HTML
shown as text in a real browser).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from moodlab.core.errors import PermissionDenied
from moodlab.core.models import Image, ImageVote, Job, Role, Snapshot, TieBreak, User
from moodlab.datasets import snapshots as datasets
from moodlab.datasets import ties
from moodlab.datasets.export import export
from moodlab.datasets.snapshots import Rules
from moodlab.images.actions import start_crawl, start_import
from moodlab.images.crawl import CrawlParams
from moodlab.images.importer import ImportParams, import_path
from moodlab.images.uploads import save_uploads
from moodlab.jobs import queue as jobs
from moodlab.jobs.actions import start_check
from moodlab.training.actions import start_training
from moodlab.training.registry import activate
from moodlab.training.runs import TrainParams
from moodlab.ui.session import ACTOR_KEY, LAST_SEEN_KEY
from moodlab.ui.text import plain
from moodlab.video.request import VideoParams
from moodlab.votes import csv_votes
from moodlab.votes.agreement import agreement_report
from tests import media
from tests.conftest import PASSWORD, ROOT

APP = str(ROOT / "app.py")

# What an annotator might try, by hand-crafted request or a patched page: each
# call names a lead service and the action its refusal names.
LEAD_SERVICES = [
    (
        "see the agreement statistics",
        lambda s, a, st, p: agreement_report(session=s, actor=a, settings=st),
    ),
    (
        "build datasets",
        lambda s, a, st, p: datasets.freeze(session=s, actor=a, settings=st, rules=Rules()),
    ),
    ("list datasets", lambda s, a, st, p: datasets.list_snapshots(session=s, actor=a)),
    (
        "see disputed images",
        lambda s, a, st, p: ties.disputed_images(session=s, actor=a, settings=st),
    ),
    (
        "break ties",
        lambda s, a, st, p: ties.break_tie(
            session=s, actor=a, settings=st, image_id=1, mood="Happy"
        ),
    ),
    (
        "export datasets",
        lambda s, a, st, p: export(
            session=s, actor=a, settings=st, snapshot_id=1, out=p / "set.zip"
        ),
    ),
    (
        "import votes",
        lambda s, a, st, p: csv_votes.import_votes(session=s, actor=a, path=p / "votes.csv"),
    ),
    (
        "start a web crawl job",
        lambda s, a, st, p: start_crawl(
            session=s, actor=a, settings=st, params=CrawlParams(seeds=["http://127.0.0.1:9/"])
        ),
    ),
    (
        "start an image import job",
        lambda s, a, st, p: start_import(
            session=s, actor=a, settings=st, params=ImportParams(path=str(p))
        ),
    ),
    (
        "start a training run job",
        lambda s, a, st, p: start_training(
            session=s, actor=a, settings=st, params=TrainParams(snapshot_id=1)
        ),
    ),
    ("activate models", lambda s, a, st, p: activate(session=s, actor=a, model_id=1)),
    ("read datasets", lambda s, a, st, p: datasets.get_snapshot(session=s, actor=a, snapshot_id=1)),
    ("read datasets", lambda s, a, st, p: datasets.members_of(session=s, actor=a, snapshot_id=1)),
]


def rows(database) -> dict[str, int]:
    with database.session() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Job, Snapshot, TieBreak, ImageVote, User)
        }


@pytest.mark.parametrize(("action", "call"), LEAD_SERVICES, ids=[a for a, _ in LEAD_SERVICES])
def test_an_annotator_calling_a_lead_service_is_refused_and_nothing_changes(
    database, settings, lead, annotator, tmp_path, action, call
):
    (tmp_path / "votes.csv").write_text(f"image,annotator,mood\n{'a' * 64},anna,Happy\n")
    before = rows(database)
    with pytest.raises(PermissionDenied) as refused, database.session() as session:
        call(session, annotator, settings, tmp_path)
    assert str(refused.value) == f"anna (annotator) may not {action}: it needs the lead role"
    assert rows(database) == before
    assert not (tmp_path / "set.zip").exists()


def test_an_annotator_sees_only_their_own_jobs(database, settings, lead, annotator):
    with database.session() as session:
        theirs = start_check(session=session, actor=lead, settings=settings).id
        params = VideoParams(inputs=[str(_a_clip(settings))])
        mine = jobs.enqueue(session=session, actor=annotator, settings=settings, params=params).id
    refused = pytest.raises(
        PermissionDenied, match="anna .annotator. may not see other users' jobs"
    )
    with refused, database.session() as session:
        jobs.get_job(session=session, actor=annotator, job_id=theirs)
    with database.session() as session:
        assert jobs.get_job(session=session, actor=annotator, job_id=mine).id == mine
        assert jobs.get_job(session=session, actor=lead, job_id=theirs).id == theirs
        assert [j.id for j in jobs.list_jobs(session=session, actor=annotator)] == [mine]


def _a_clip(settings) -> Path:
    """A file the video job's queue-time checks accept (they do not decode it)."""
    path = settings.data_dir / "uploads" / "u1" / "000001.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    return path


def test_an_annotator_may_not_cancel_someone_elses_job(database, settings, lead, annotator):
    with database.session() as session:
        job_id = start_check(session=session, actor=lead, settings=settings).id
    refused = pytest.raises(PermissionDenied, match="may not cancel other users' jobs")
    with refused, database.session() as session:
        jobs.request_cancel(session=session, actor=annotator, job_id=job_id)
    with database.session() as session:
        assert session.get(Job, job_id).status == "queued"


# --- logins and sessions through the app ------------------------------------------------


def log_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def test_the_login_page_locks_a_name_out_after_repeated_failures(database, lead, monkeypatch):
    monkeypatch.setenv("MOODLAB_LOGIN_MAX_FAILURES", "3")
    at = AppTest.from_file(APP, default_timeout=30).run()
    for _ in range(3):
        log_in(at, "lena", "not-the-password")
        assert [e.value for e in at.error] == ["wrong user name or password"]
    # The right password no longer helps until the lock-out window has passed.
    log_in(at, "lena", PASSWORD)
    assert ACTOR_KEY not in at.session_state
    shown = plain("too many failed logins for 'lena': try again in")  # moodlab/ui/text.py
    assert at.error[0].value.startswith(shown)


def test_a_session_idle_past_the_configured_limit_is_logged_out(database, lead, monkeypatch):
    monkeypatch.setenv("MOODLAB_SESSION_IDLE_MINUTES", "10")
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[ACTOR_KEY] = lead
    at.session_state[LAST_SEEN_KEY] = time.time() - 9 * 60
    at.run()
    assert at.session_state[ACTOR_KEY] == lead, "9 idle minutes of 10: still logged in"
    assert "Hello lena" in " ".join(str(e.value) for e in at.caption)
    # Each run counts as activity: the clock starts again, then runs out.
    assert time.time() - at.session_state[LAST_SEEN_KEY] < 60
    at.session_state[LAST_SEEN_KEY] = time.time() - 11 * 60
    at.run()
    assert ACTOR_KEY not in at.session_state
    assert not at.exception
    assert "Hello lena" not in " ".join(str(e.value) for e in at.caption)


# --- uploaded names -----------------------------------------------------------------------

TRAVERSING_NAMES = [
    "../../../../tmp/moodlab-escape.jpg",
    "/etc/moodlab-escape.jpg",
    "..\\..\\moodlab-escape.jpg",
    "C:\\Windows\\moodlab-escape.jpg",
    "./../moodlab-escape.jpg",
]


def test_uploaded_names_that_traverse_are_saved_inside_the_upload_folder_and_imported(
    settings, database, tmp_path
):
    files = [(name, media.jpeg(40 + i)) for i, name in enumerate(TRAVERSING_NAMES)]
    folder, names = save_uploads(settings, files)
    saved = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    assert saved == [f"{n:06d}.jpg" for n in range(1, len(files) + 1)]
    assert set(names.values()) == {"moodlab-escape.jpg"}, "only the base name is kept, as a label"
    everywhere = [ROOT, tmp_path, settings.data_dir.parent, *map(type(tmp_path), ["/tmp", "/etc"])]
    assert not [p for root in everywhere for p in root.glob("moodlab-escape.jpg")]

    report = import_path(folder, settings, database)
    assert report.stored == len(files)
    with database.session() as session:
        sources = session.scalars(select(Image.source_url)).all()
    assert all(source is None or ".." not in source for source in sources)


def test_an_uploaded_track_with_a_traversing_name_lands_in_the_music_folder(
    settings, database, lead
):
    from moodlab.music import library

    with database.session() as session:
        track = library.import_upload(
            session=session,
            actor=lead,
            settings=settings,
            name="..\\..\\../../moodlab-escape.wav",
            data=media.beat_wav(seconds=11),
        )
    stored = (settings.music_dir / track.path).resolve()
    assert stored.is_relative_to(settings.music_dir.resolve())
    assert track.title == "moodlab-escape"
    assert not list(settings.music_dir.parent.rglob("moodlab-escape.wav"))


# --- CSV exports ------------------------------------------------------------------------

FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x")']


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_is_neutralised(cell):
    assert csv_votes.safe_cell(cell) == "'" + cell


def test_the_votes_export_holds_no_formula_even_for_a_name_from_outside_the_rules(
    database, lead, tmp_path
):
    # The name rules refuse such names, but a database restored from elsewhere or
    # written by another tool might hold one: the export must not trust the rules.
    with database.session() as session:
        user = User(name="=cmd|' /C calc'!A0", role=Role.ANNOTATOR, password_hash="x")
        image = Image(sha256="c" * 64, width=100, height=100)
        session.add_all([user, image])
        session.flush()
        session.add(ImageVote(image_id=image.id, annotator_id=user.id, mood="Happy"))
    out = tmp_path / "votes.csv"
    with database.session() as session:
        assert csv_votes.export_votes(session=session, actor=lead, path=out) == 1
    cells = [cell for row in csv.reader(out.open(newline="")) for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells
    assert not [cell for cell in cells if cell.startswith(tuple("=+-@\t\r"))]
