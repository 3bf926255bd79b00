"""The lead's label review: exclusions, sending an image back for new votes, its history."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from moodlab.core.errors import MoodlabError, NotFound, PermissionDenied
from moodlab.core.models import (
    ArchivedVote,
    Image,
    ImageExclusion,
    ImageVote,
    Role,
    SnapshotMember,
    TieBreak,
    TrainedModel,
    VoteRound,
)
from moodlab.datasets import exclusions, ties
from moodlab.datasets import review as label_review
from moodlab.datasets import snapshots as datasets
from moodlab.datasets.snapshots import Rules
from moodlab.votes import annotation, csv_votes, rounds
from moodlab.votes.agreement import agreement_report
from tests.conftest import add_user, run_cli
from tests.datasets.test_datasets import Lab, train


@pytest.fixture
def lab(database, settings):
    return Lab(
        database, settings, [add_user(database, f"a{i}", Role.ANNOTATOR) for i in (1, 2, 3, 4)]
    )


def count(database, table, *where) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(table).where(*where)) or 0


def test_an_excluded_image_is_left_out_of_the_next_snapshot_until_the_lead_undoes_it(
    lab, lead, database
):
    happy = train(lab, "Happy", 3)
    train(lab, "Tired", 3)
    assert lab.plan(lead, uncapped=True).counts("train")["Happy"] == 3  # cached from here
    with database.session() as session:
        made = exclusions.exclude(session=session, actor=lead, image=happy[0], reason="a logo")
        assert made.excluded_by_id == lead.id and made.reason == "a logo"
    # The page's cached plan sees it at once: exclusions change the votes version.
    assert lab.plan(lead, uncapped=True).counts("train")["Happy"] == 2
    with database.session() as session:
        snapshot = datasets.freeze(
            session=session, actor=lead, settings=lab.settings, rules=Rules(uncapped=True)
        )
        members = {
            m.image_id
            for m in datasets.members_of(session=session, actor=lead, snapshot_id=snapshot.id)
        }
        assert happy[0] not in members and happy[1] in members
        assert snapshot.rules["excluded"] == 1
    with database.session() as session:
        lifted = exclusions.include(session=session, actor=lead, image=happy[0])
        assert lifted.lifted_by_id == lead.id and lifted.lifted_at is not None
    assert lab.plan(lead, uncapped=True).counts("train")["Happy"] == 3
    with database.session() as session:  # the row stays: the history shows both
        history = label_review.image_history(session=session, actor=lead, image=happy[0])
        assert [(e.reason, e.by, e.lifted_by) for e in history.exclusions] == [
            ("a logo", "lena", "lena")
        ]
        assert not history.excluded


def test_exclusions_refuse_bad_requests_with_the_image_named_and_store_nothing(lab, lead, database):
    [image] = train(lab, "Happy", 1)
    annotator = lab.annotators[0]
    cases = [
        (annotator, image, "x", PermissionDenied, "may not exclude images"),
        (lead, image, "  ", MoodlabError, f"say why image {image} is left out"),
        (lead, 999, "x", NotFound, "no image with id 999"),
        (lead, "f" * 64, "x", NotFound, f"no image with sha256 {'f' * 64}"),
        (lead, "cat.jpg", "x", MoodlabError, "'cat.jpg' is neither an image id nor"),
    ]
    for actor, which, reason, error, message in cases:
        with pytest.raises(error, match=message), database.session() as session:
            exclusions.exclude(session=session, actor=actor, image=which, reason=reason)
    assert count(database, ImageExclusion) == 0
    with (
        pytest.raises(MoodlabError, match=f"image {image} is not excluded"),
        database.session() as session,
    ):
        exclusions.include(session=session, actor=lead, image=image)
    with database.session() as session:  # by its sha256, as the CLI may name it
        sha = session.get(Image, image).sha256
        exclusions.exclude(session=session, actor=lead, image=sha, reason="blurred")
    with (
        pytest.raises(MoodlabError, match=f"image {image} is already excluded .*blurred"),
        database.session() as session,
    ):
        exclusions.exclude(session=session, actor=lead, image=image, reason="again")
    with pytest.raises(PermissionDenied), database.session() as session:
        exclusions.include(session=session, actor=annotator, image=image)
    assert count(database, ImageExclusion, ImageExclusion.lifted_at.is_(None)) == 1


def test_sending_back_archives_the_votes_and_the_image_is_voted_again(
    lab, lead, database, settings, tmp_path
):
    [image] = train(lab, "Happy", 1)  # Happy, Happy, Happy, Tired
    train(lab, "Tired", 2)
    with database.session() as session:
        first = datasets.freeze(session=session, actor=lead, settings=settings, rules=Rules())
        before = agreement_report(session=session, actor=lead, settings=settings)
    assert before["tiers"]["train"] == 3
    with database.session() as session:
        sent = rounds.send_back(session=session, actor=lead, image=image, reason="looks Tired")
    assert (sent.image_id, sent.round, sent.archived, sent.tie_break) == (image, 1, 4, None)
    # The votes are archived, not deleted, and nothing counts them any more.
    assert count(database, ImageVote, ImageVote.image_id == image) == 0
    assert count(database, ArchivedVote, ArchivedVote.image_id == image) == 4
    with database.session() as session:
        [closed] = session.scalars(select(VoteRound)).all()
        assert (closed.round, closed.reason, closed.sent_by_id) == (1, "looks Tired", lead.id)
        thawed = session.get(Image, image)
        assert thawed.response_count == 0 and thawed.frozen_at is None
        after = agreement_report(session=session, actor=lead, settings=settings)
        # The frozen snapshot keeps its member, label and votes as they were.
        member = session.scalar(
            select(SnapshotMember).where(
                SnapshotMember.snapshot_id == first.id, SnapshotMember.image_id == image
            )
        )
        assert member.label == "Happy" and member.votes == {"Happy": 3, "Tired": 1}
    assert after["tiers"]["train"] == 2 and after["tiers"]["pending"] == 1  # cache refreshed
    assert lab.plan(lead).counts("train")["Happy"] == 0
    # It is back in every annotator's queue, and its votes may be given again (the odd
    # one second: three agreeing answers first would leave no queue a place for a fourth).
    for person, mood in zip(lab.annotators, ["Tired", "Happy", "Tired", "Tired"], strict=True):
        with database.session() as session:
            queue = annotation.next_images(
                session=session, actor=person, settings=settings, limit=10
            )
            assert image in [i.id for i in queue]
            annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    assert lab.plan(lead).counts("train")["Tired"] == 3
    with database.session() as session:
        out = tmp_path / "votes.csv"
        csv_votes.export_votes(session=session, actor=lead, path=out)
        history = label_review.image_history(session=session, actor=lead, image=image)
    exported = [line for line in out.read_text().splitlines() if line.startswith(thawed.sha256)]
    # Exports count the current round only: the 4 new votes, not the 4 archived.
    assert sorted(line.split(",")[2] for line in exported) == [
        "Happy",
        "Tired",
        "Tired",
        "Tired",
    ]
    assert [r.round for r in history.rounds] == [1, 2]
    old, current = history.rounds
    assert sorted(v["mood"] for v in old.votes) == ["Happy", "Happy", "Happy", "Tired"]
    assert (old.closed_by, old.reason) == ("lena", "looks Tired")
    assert current.closed_at is None
    assert sorted(v["mood"] for v in current.votes) == ["Happy", "Tired", "Tired", "Tired"]
    # Frozen again in round 2, then sent back again: round 2 is archived too.
    with database.session() as session:
        datasets.freeze(session=session, actor=lead, settings=settings, rules=Rules())
    with pytest.raises(annotation.FrozenImage), database.session() as session:
        annotation.answer(session=session, actor=lab.annotators[0], image_id=image, mood="Happy")
    with database.session() as session:
        again = rounds.send_back(session=session, actor=lead, image=image, reason="still odd")
        assert again.round == 2 and rounds.current_round(session, image) == 3
    assert count(database, ArchivedVote, ArchivedVote.image_id == image) == 8


def test_a_send_back_keeps_the_rounds_tie_break_and_refuses_bad_requests(lab, lead, database):
    tied = lab.image("Angry", "Angry", "Anxiety", "Anxiety")
    with database.session() as session:
        ties.break_tie(
            session=session, actor=lead, settings=lab.settings, image_id=tied, mood="Anxiety"
        )
    annotator = lab.annotators[0]
    cases = [
        (annotator, tied, "x", PermissionDenied, "may not send images back"),
        (lead, tied, "", MoodlabError, f"say why image {tied} goes back"),
        (lead, 12345, "x", NotFound, "no image with id 12345"),
    ]
    for actor, which, reason, error, message in cases:
        with pytest.raises(error, match=message), database.session() as session:
            rounds.send_back(session=session, actor=actor, image=which, reason=reason)
    assert count(database, VoteRound) == 0 and count(database, ArchivedVote) == 0
    assert count(database, ImageVote, ImageVote.image_id == tied) == 4
    with database.session() as session:
        sent = rounds.send_back(session=session, actor=lead, image=tied, reason="tie")
    assert sent.tie_break == "Anxiety" and count(database, TieBreak) == 0
    with (
        pytest.raises(MoodlabError, match=f"image {tied} has no votes in its current round"),
        database.session() as session,
    ):
        rounds.send_back(session=session, actor=lead, image=tied, reason="again")
    assert count(database, VoteRound) == 1


def _model_with_out_of_fold(database, shas_labels, snapshot_id=None) -> int:
    """A registry row whose report has out-of-fold rows: (sha256, label index, probs)."""
    rows = [{"image": sha, "label": label, "probs": probs} for sha, label, probs in shas_labels]
    with database.session() as session:
        model = TrainedModel(
            arch="plain",
            path="models/x.keras",
            snapshot_id=snapshot_id,
            cv_scores={"scores": [0.5]},
            report={"out_of_fold": rows},
        )
        session.add(model)
        session.flush()
        return model.id


def confident(mood: int, p: float = 0.9) -> list[float]:
    return [p if k == mood else (1 - p) / 7 for k in range(8)]


def test_the_review_lists_disputed_images_with_votes_probabilities_and_state(
    lab, lead, database, settings
):
    happy = train(lab, "Happy", 3)  # Happy, Happy, Happy, Tired (a4)
    with database.session() as session:
        shas = [session.get(Image, i).sha256 for i in happy]
    # Happy is index 0, Tired 6: the first image looks Tired to the model.
    rows = [
        (shas[0], 0, confident(6)),
        (shas[1], 0, confident(0)),
        (shas[2], 0, confident(0)),
        ("0" * 64, 6, confident(6)),
    ]
    model_id = _model_with_out_of_fold(database, rows)
    with database.session() as session:
        exclusions.exclude(session=session, actor=lead, image=happy[0], reason="check")
        found = label_review.label_review(session=session, actor=lead, settings=settings)
    assert found.model_id == model_id and found.images == 4
    [item] = found.disputed  # cleanlab finds the flipped one, not the agreeing ones
    assert found.note.startswith("Tired has only one training image, whose label is not")
    assert (item.image_id, item.label, item.suggested) == (happy[0], "Happy", "Tired")
    assert item.votes == [("a1", "Happy"), ("a2", "Happy"), ("a3", "Happy"), ("a4", "Tired")]
    assert item.probs["Tired"] == pytest.approx(0.9) and len(item.probs) == 8
    assert item.round == 1 and item.excluded.reason == "check" and item.excluded.by == "lena"
    with database.session() as session:
        rounds.send_back(session=session, actor=lead, image=happy[0], reason="re-vote")
        [item] = label_review.label_review(
            session=session, actor=lead, settings=settings, model_id=model_id
        ).disputed
    assert item.round == 2 and item.votes == []
    with pytest.raises(PermissionDenied), database.session() as session:
        label_review.label_review(session=session, actor=lab.annotators[0], settings=settings)
    with pytest.raises(NotFound, match="no trained model with id 99"), database.session() as s:
        label_review.label_review(session=s, actor=lead, settings=settings, model_id=99)


def test_the_review_commands(lab, lead, database, env):
    [image] = train(lab, "Happy", 1)
    with database.session() as session:
        sha = session.get(Image, image).sha256
    # Two Happy images (cleanlab judges no mood with a single image), one looks Tired.
    _model_with_out_of_fold(
        database, [(sha, 0, confident(6)), ("1" * 64, 0, confident(0)), ("0" * 64, 6, confident(6))]
    )
    listed = run_cli("review", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [item] = json.loads(listed.stdout)["disputed"]
    assert "Tired has only one training image" in json.loads(listed.stdout)["note"]
    assert item["image_id"] == image and item["votes"][0] == ["a1", "Happy"]
    refused = run_cli("review", "exclude", str(image))
    assert refused.returncode != 0 and "reason" in refused.stderr
    missing = run_cli("review", "exclude", "4242", "--reason", "x")
    assert missing.returncode == 1 and "no image with id 4242" in missing.stderr
    done = run_cli("review", "exclude", sha, "--reason", "a watermark", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["excluded"] is True
    assert (
        json.loads(run_cli("review", "include", str(image), "--json").stdout)["excluded"] is False
    )
    back = run_cli("review", "send-back", str(image), "--reason", "unsure", "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["archived"] == 4
    history = json.loads(run_cli("review", "history", str(image), "--json").stdout)
    assert [r["round"] for r in history["rounds"]] == [1, 2]
    assert len(history["rounds"][0]["votes"]) == 4 and history["rounds"][1]["votes"] == []
    assert [e["reason"] for e in history["exclusions"]] == ["a watermark"]


def test_a_votes_csv_may_vote_on_a_sent_back_image_but_not_on_a_frozen_one(
    lab, lead, database, settings, tmp_path
):
    [back, kept] = train(lab, "Happy", 2)
    with database.session() as session:
        datasets.freeze(session=session, actor=lead, settings=settings, rules=Rules())
        rounds.send_back(session=session, actor=lead, image=back, reason="again")
        shas = {i: session.get(Image, i).sha256 for i in (back, kept)}
    votes = tmp_path / "votes.csv"
    votes.write_text(f"image,annotator,mood\n{shas[back]},a1,Tired\n{shas[kept]},a1,Tired\n")
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, path=votes, settings=settings)
    assert report.imported == 1
    assert [r["line"] for r in report.rejected] == [3]
    assert "is frozen into a dataset snapshot" in report.rejected[0]["reason"]


def test_the_review_is_computed_once_and_states_are_read_for_the_page_shown(
    lab, lead, database, settings, monkeypatch
):
    """Issue 29: the Datasets page reran the whole review (cleanlab, an IN list of every
    disputed image, their votes, rounds and exclusions) on every click."""
    from sqlalchemy import event

    happy = train(lab, "Happy", 3)
    with database.session() as session:
        shas = [session.get(Image, i).sha256 for i in happy]
    rows = [
        (shas[0], 0, confident(6)),
        (shas[1], 0, confident(0)),
        (shas[2], 0, confident(0)),
        ("0" * 64, 6, confident(6)),
    ]
    model_id = _model_with_out_of_fold(database, rows)
    computed = []
    real = label_review._review
    monkeypatch.setattr(label_review, "_review", lambda *a: computed.append(a[2]) or real(*a))
    statements: list[str] = []
    engine = database.engine

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(2):
            with database.session() as session:
                found = label_review.label_review(
                    session=session, actor=lead, settings=settings, states=False
                )
        assert computed == [model_id]  # the second rerun reviewed nothing
        [item] = found.disputed
        assert (item.image_id, item.votes, item.excluded) == (happy[0], [], None)
        assert sum("sha256 IN" in s for s in statements) == 1  # the first run's
        statements.clear()
        with database.session() as session:
            [shown] = label_review.with_states(session=session, actor=lead, disputed=[item])
        # Only the page's images are read: no query names every image's hash.
        assert not any("sha256 IN" in s for s in statements)
        assert shown.votes == [("a1", "Happy"), ("a2", "Happy"), ("a3", "Happy"), ("a4", "Tired")]
        # A new vote (or an exclusion) does not review again; the states show it.
        with database.session() as session:
            exclusions.exclude(session=session, actor=lead, image=happy[0], reason="check")
            found = label_review.label_review(session=session, actor=lead, settings=settings)
        assert computed == [model_id]
        assert found.disputed[0].excluded.reason == "check"
        assert found.disputed[0].votes == shown.votes
    finally:
        event.remove(engine, "before_cursor_execute", seen)
