"""Voting: the queue, blind answers, undo, frozen images, CSV, and concurrent annotators."""

from __future__ import annotations

import multiprocessing
import traceback

import pytest
from sqlalchemy import func, select

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError, PermissionDenied
from moodlab.core.models import Image, ImageVote, Role
from moodlab.core.timeutil import utcnow
from moodlab.votes import annotation, csv_votes
from moodlab.votes.annotation import FrozenImage
from tests.conftest import add_user


def add_images(database, n: int) -> list[int]:
    with database.session() as session:
        images = [Image(sha256=f"{i:064x}", width=200, height=200) for i in range(1, n + 1)]
        session.add_all(images)
        session.flush()
        return [image.id for image in images]


def vote(database, actor, image_id, mood):
    with database.session() as session:
        return annotation.answer(session=session, actor=actor, image_id=image_id, mood=mood)


def next_for(database, settings, actor):
    with database.session() as session:
        image = annotation.next_image(session=session, actor=actor, settings=settings)
        return image.id if image else None


@pytest.fixture
def annotators(database):
    return [add_user(database, name, Role.ANNOTATOR) for name in ("a1", "a2", "a3", "a4", "a5")]


def test_the_queue_puts_images_closest_to_a_decision_first(database, settings, annotators):
    a1, a2, a3, a4, a5 = annotators
    ids = add_images(database, 4)
    vote(database, a1, ids[2], "Happy")
    vote(database, a2, ids[2], "Tired")
    vote(database, a1, ids[3], "Tired")
    assert next_for(database, settings, a5) == ids[2]  # 2 answers
    # a1 answered 2 and 3 already; which of the others comes first is a1's own order.
    assert next_for(database, settings, a1) in ids[:2]
    for person in (a3, a4):
        vote(database, person, ids[2], "Angry")
    # Image 2 now has its 4 answers: nobody else is asked about it.
    assert next_for(database, settings, a5) == ids[3]


def test_a_skip_is_an_answer_but_not_a_vote(database, settings, annotators):
    a1 = annotators[0]
    [image] = add_images(database, 1)
    vote(database, a1, image, "skip")
    assert next_for(database, settings, a1) is None
    with database.session() as session:
        row = session.scalar(select(ImageVote))
        assert row.mood is None
        assert session.get(Image, image).response_count == 1


def test_changing_a_vote_and_undo(database, settings, annotators):
    a1 = annotators[0]
    [image] = add_images(database, 1)
    first = vote(database, a1, image, "Happy")
    assert not first.existed
    change = vote(database, a1, image, "Peaceful")
    assert change.existed and change.mood == "Happy"
    with database.session() as session:
        assert annotation.undo(session=session, actor=a1) == image
    with database.session() as session:
        assert session.scalar(select(ImageVote.mood)) == "Happy"
        annotation.undo(session=session, actor=a1)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ImageVote)) == 0
        assert session.get(Image, image).response_count == 0
    assert next_for(database, settings, a1) == image


def test_frozen_images_are_read_only_with_a_clear_message(database, settings, annotators):
    a1 = annotators[0]
    [image] = add_images(database, 1)
    vote(database, a1, image, "Happy")
    with database.session() as session:
        session.get(Image, image).frozen_at = utcnow()
    with pytest.raises(FrozenImage, match=f"image {image} is frozen into a dataset snapshot"):
        vote(database, a1, image, "Tired")
    assert next_for(database, settings, annotators[1]) is None


def test_unknown_moods_and_images_are_refused(database, annotators):
    [image] = add_images(database, 1)
    with pytest.raises(MoodlabError, match="unknown mood 'Joyful'"):
        vote(database, annotators[0], image, "Joyful")
    with pytest.raises(MoodlabError, match="no image with id 999"):
        vote(database, annotators[0], 999, "Happy")


def test_progress_counts_today_total_and_left(database, settings, annotators):
    a1 = annotators[0]
    ids = add_images(database, 3)
    vote(database, a1, ids[0], "Happy")
    vote(database, a1, ids[1], "skip")
    with database.session() as session:
        done = annotation.progress(session=session, actor=a1, settings=settings)
    assert (done.today, done.total, done.left) == (2, 2, 1)


def test_csv_round_trip_rejects_bad_lines_and_reimport_changes_nothing(
    database, lead, annotators, tmp_path
):
    ids = add_images(database, 2)
    with database.session() as session:
        session.get(Image, ids[1]).source_url = "https://example.org/b.jpg"
        sha = session.get(Image, ids[0]).sha256
    csv_file = tmp_path / "votes.csv"
    csv_file.write_text(
        "image,annotator,mood\n"
        f"{sha},a1,Happy\n"
        "https://example.org/b.jpg,a2,tired\n"
        f"{sha},a3,skip\n"
        f"{'f' * 64},a1,Happy\n"
        f"{sha},zed,Happy\n"
        f"{sha},a4,Joyful\n"
    )
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, path=csv_file)
    assert (report.imported, report.unchanged) == (3, 0)
    assert [(r["line"], r["reason"]) for r in report.rejected] == [
        (5, f"unknown image '{'f' * 64}'"),
        (6, "unknown annotator 'zed'"),
        (7, "unknown mood 'Joyful': expected one of " + ", ".join(moods.names())),
    ]
    with database.session() as session:
        again = csv_votes.import_votes(session=session, actor=lead, path=csv_file)
    assert (again.imported, again.unchanged) == (0, 3)
    out = tmp_path / "out.csv"
    with database.session() as session:
        assert csv_votes.export_votes(session=session, actor=lead, path=out) == 3
    lines = out.read_text().splitlines()
    assert lines[0] == "image,annotator,mood,guidelines_version"
    assert any(line.startswith(f"{sha},a3,skip,") for line in lines)


def test_annotators_cannot_import_export_or_see_agreement(database, settings, annotators, tmp_path):
    from moodlab.votes.agreement import agreement_report

    with pytest.raises(PermissionDenied), database.session() as session:
        csv_votes.export_votes(session=session, actor=annotators[0], path=tmp_path / "x.csv")
    with pytest.raises(PermissionDenied), database.session() as session:
        agreement_report(session=session, actor=annotators[0], settings=settings)


def test_exported_cells_cannot_become_formulas():
    assert csv_votes.safe_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_votes.safe_cell("anna") == "anna"


def _vote_many(url: str, annotator, image_ids: list[int], moods: list[str]) -> None:
    database = Database(url)
    for image_id, mood in zip(image_ids, moods, strict=True):
        with database.session() as session:
            annotation.answer(session=session, actor=annotator, image_id=image_id, mood=mood)
    database.dispose()


def test_four_annotators_voting_at_once_lose_and_duplicate_nothing(database, settings, annotators):
    ids = add_images(database, 500)
    names = moods.names()
    plans = {a.id: [names[(image + a.id) % 8] for image in ids] for a in annotators[:4]}
    context = multiprocessing.get_context("spawn")
    procs = [
        context.Process(target=_vote_many, args=(settings.database_url, a, ids, plans[a.id]))
        for a in annotators[:4]
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0
    with database.session() as session:
        rows = session.execute(
            select(ImageVote.image_id, ImageVote.annotator_id, ImageVote.mood)
        ).all()
        counts = set(session.scalars(select(Image.response_count)))
    assert len(rows) == 2000
    assert {(image, who): mood for image, who, mood in rows} == {
        (image, a.id): plans[a.id][n] for a in annotators[:4] for n, image in enumerate(ids)
    }
    assert counts == {4}


def test_votes_and_agreement_commands(env, tmp_path):
    import json

    from tests.conftest import PASSWORD, run_cli

    assert run_cli("migrate").returncode == 0
    for name in ("a1", "a2", "a3", "a4"):
        run_cli("users", "add", name, "--role", "annotator", stdin=PASSWORD)
    database = Database(env["MOODLAB_DATABASE_URL"])
    ids = add_images(database, 2)
    with database.session() as session:
        shas = [session.get(Image, i).sha256 for i in ids]
    rows = [f"{shas[0]},{a},Happy" for a in ("a1", "a2", "a3")] + [f"{shas[0]},a4,Dynamic"]
    rows += [f"{shas[1]},a1,Tired", f"{shas[1]},a2,Tired", "nope,a1,Happy"]
    (tmp_path / "in.csv").write_text("image,annotator,mood\n" + "\n".join(rows) + "\n")
    imported = json.loads(run_cli("votes", "import", str(tmp_path / "in.csv"), "--json").stdout)
    assert imported["imported"] == 6
    assert imported["rejected"] == [{"line": 8, "reason": "unknown image 'nope'"}]
    report = json.loads(run_cli("agreement", "--json").stdout)
    assert report["tiers"] == {
        "train": 1,
        "test": 0,
        "disputed": 0,
        "no_consensus": 0,
        "pending": 1,
    }
    assert report["per_mood"]["Happy"] == {"train": 1, "test": 0}
    assert set(report) >= {"fleiss_kappa", "krippendorff_alpha", "circular_alpha", "annotators"}
    assert report["annotators"]["a1"]["votes"] == 2
    ds = report["dawid_skene"]  # beside the promised keys
    assert {row["image_id"]: row["mood"] for row in ds["images"]}[ids[0]] == "Happy"
    assert len(ds["annotators"]["a4"]["confusion"]) == 8
    exported = json.loads(run_cli("votes", "export", str(tmp_path / "out.csv"), "--json").stdout)
    assert exported["exported"] == 6
    missing = run_cli("votes", "import", str(tmp_path / "missing.csv"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_the_browser_outbox_is_applied_once_in_order_even_when_resent(database, annotators):
    a1 = annotators[0]
    ids = add_images(database, 3)
    outbox = annotation.Outbox()
    first = [{"seq": 1, "image_id": ids[0], "mood": "Happy"}]
    annotation.apply_outbox(
        session_factory=database.session, actor=a1, outbox=outbox, entries=first
    )
    # The browser re-sends what it has not seen acknowledged, and a send may be lost:
    # entry 2's own trigger never arrived, but it rides along with entry 3.
    later = [
        {"seq": 1, "image_id": ids[0], "mood": "Happy"},
        {"seq": 2, "image_id": ids[1], "mood": None},
        {"seq": 3, "image_id": ids[2], "mood": "Tired"},
    ]
    annotation.apply_outbox(
        session_factory=database.session, actor=a1, outbox=outbox, entries=later
    )
    annotation.apply_outbox(
        session_factory=database.session, actor=a1, outbox=outbox, entries=later
    )
    assert outbox.acked == 3 and outbox.error is None
    with database.session() as session:
        answers = dict(session.execute(select(ImageVote.image_id, ImageVote.mood)).all())
    assert answers == {ids[0]: "Happy", ids[1]: None, ids[2]: "Tired"}
    undo = [{"seq": 4, "undo": True}]
    annotation.apply_outbox(session_factory=database.session, actor=a1, outbox=outbox, entries=undo)
    assert outbox.undone == ids[2]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ImageVote)) == 2
        queue = annotation.next_images(
            session=session, actor=a1, settings=Settings.from_env(), limit=2, first=outbox.undone
        )
    assert [image.id for image in queue] == [ids[2]]


def test_an_outbox_entry_that_fails_is_reported_and_not_retried(database, annotators):
    a1 = annotators[0]
    [image] = add_images(database, 1)
    with database.session() as session:
        session.get(Image, image).frozen_at = utcnow()
    outbox = annotation.Outbox()
    entries = [{"seq": 1, "image_id": image, "mood": "Happy"}]
    annotation.apply_outbox(
        session_factory=database.session, actor=a1, outbox=outbox, entries=entries
    )
    assert outbox.acked == 1 and "is frozen into a dataset snapshot" in outbox.error


# --- the answer service's refusals (issue 14, item 2) --------------------------------------


def test_an_answer_past_the_quorum_is_refused_but_the_four_may_change_theirs(
    database, settings, annotators
):
    [image] = add_images(database, 1)
    for person in annotators[:4]:
        vote(database, person, image, "Happy")
    with pytest.raises(annotation.QuorumReached, match=f"image {image} already has its 4"):
        vote(database, annotators[4], image, "Tired")
    vote(database, annotators[0], image, "Tired")  # one of the four changes their vote
    with database.session() as session:
        assert session.get(Image, image).response_count == 4
        assert session.scalar(select(func.count()).select_from(ImageVote)) == 4


def test_a_deactivated_annotator_is_refused_even_with_an_old_actor(database, lead, annotators):
    from moodlab.core import auth

    [image] = add_images(database, 1)
    first = vote(database, annotators[0], image, "Happy")
    with database.session() as session:
        auth.set_active(session=session, actor=lead, name="a1", active=False)
    with pytest.raises(annotation.InactiveAnnotator, match="'a1' is deactivated"):
        vote(database, annotators[0], image, "Tired")  # the Actor is the pre-deactivation one
    assert not first.existed
    with pytest.raises(annotation.InactiveAnnotator), database.session() as session:
        annotation.undo(session=session, actor=annotators[0])
    with database.session() as session:
        assert session.scalar(select(ImageVote.mood)) == "Happy"


def test_an_image_in_a_snapshot_is_frozen_even_without_its_frozen_stamp(database, annotators):
    from moodlab.core.models import Snapshot, SnapshotMember

    [image] = add_images(database, 1)
    with database.session() as session:
        snap = Snapshot(rules={}, manifest_sha256="0" * 64, train_counts={}, test_counts={})
        session.add(snap)
        session.flush()
        member = {"sha256": f"{image:064x}", "label": "Happy", "split": "train", "tier": "train"}
        session.add(SnapshotMember(snapshot_id=snap.id, image_id=image, votes={}, **member))
    with pytest.raises(FrozenImage, match=f"image {image} is frozen into a dataset snapshot"):
        vote(database, annotators[0], image, "Happy")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("not an object", "expected an object"),
        ({"seq": "x", "image_id": 1, "mood": "Happy"}, "sequence number 'x'"),
        ({"seq": 1, "image_id": "1; DROP", "mood": "Happy"}, "image id '1; DROP'"),
        ({"seq": 1, "mood": "Happy"}, "image id None"),
        ({"seq": 1, "image_id": 1, "mood": 7}, "mood 7 is not a mood name"),
        ({"seq": 1, "image_id": 1, "mood": "Joyful"}, "unknown mood 'Joyful'"),
        ({"seq": True, "image_id": 1, "mood": "Happy"}, "sequence number True"),
    ],
)
def test_malformed_outbox_entries_are_refused_with_a_message_never_raised(
    database, annotators, entry, message
):
    add_images(database, 1)
    outbox = annotation.Outbox()
    annotation.apply_outbox(
        session_factory=database.session, actor=annotators[0], outbox=outbox, entries=[entry]
    )
    assert message in (outbox.error or "")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ImageVote)) == 0
    # A good entry after a bad one still goes in.
    good = [entry, {"seq": 2, "image_id": 1, "mood": "Happy"}]
    annotation.apply_outbox(
        session_factory=database.session, actor=annotators[0], outbox=outbox, entries=good
    )
    assert outbox.acked == 2


def _race(url: str, annotator, image_ids: list[int], barrier, results) -> None:
    """Answer every image as soon as all racers are ready; report what was accepted
    (or the error that stopped this racer, so that the test says it at once)."""
    database = Database(url)
    settings = Settings.from_env()
    accepted, refused = [], []
    try:
        barrier.wait()
        for image_id in image_ids:
            mood = moods.names()[(image_id + annotator.id) % 8]
            try:
                with database.session() as session:
                    annotation.answer(
                        session=session,
                        actor=annotator,
                        image_id=image_id,
                        mood=mood,
                        settings=settings,
                    )
                accepted.append((image_id, annotator.id, mood))
            except annotation.QuorumReached:
                refused.append(image_id)
    except Exception:
        results.put(traceback.format_exc())
        raise
    finally:
        database.dispose()
    results.put((accepted, refused))


# Alone: seven processes racing for SQLite's one writer; beside a training test the
# busy timeout can run out, which is not what this test is about.
@pytest.mark.alone
def test_more_annotators_than_the_quorum_racing_never_pass_it_nor_lose_a_vote(
    database, settings, annotators
):
    more = annotators + [add_user(database, f"b{i}", Role.ANNOTATOR) for i in range(2)]  # 7
    ids = add_images(database, 30)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(more)), context.Queue()
    procs = [
        context.Process(target=_race, args=(settings.database_url, a, ids, barrier, results))
        for a in more
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    errors = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert not errors, errors[0]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    accepted = {vote for done, _ in outcomes for vote in done}
    refused = sum(len(r) for _, r in outcomes)
    with database.session() as session:
        stored = set(
            session.execute(select(ImageVote.image_id, ImageVote.annotator_id, ImageVote.mood))
        )
        counts = dict(session.execute(select(Image.id, Image.response_count)).all())
    assert stored == accepted  # every accepted vote is stored, nothing else is
    assert set(counts.values()) == {4}  # every image full, none past its quorum
    assert len(stored) == 4 * len(ids) and refused == (len(more) - 4) * len(ids)
