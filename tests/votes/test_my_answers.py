"""My answers: an annotator's own answers, corrected later; undo from the database; two tabs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from moodlab.core.models import AnswerChange, Image, ImageVote, Role
from moodlab.core.timeutil import utcnow
from moodlab.votes import annotation, mine
from moodlab.votes.annotation import AlreadyAnswered, FrozenImage, QuorumReached
from tests.conftest import add_user
from tests.votes.test_annotation import add_images, vote


@pytest.fixture
def people(database):
    return [add_user(database, name, Role.ANNOTATOR) for name in ("a1", "a2", "a3", "a4", "a5")]


def answers_of(database, actor):
    with database.session() as session:
        return mine.my_answers(session=session, actor=actor)


def test_my_answers_lists_only_mine_newest_first_with_skips_and_changes(database, people):
    a1, a2 = people[:2]
    ids = add_images(database, 3)
    vote(database, a1, ids[0], "Happy")
    vote(database, a1, ids[1], "skip")
    vote(database, a2, ids[2], "Tired")  # someone else's: never shown to a1
    vote(database, a1, ids[0], "Peaceful")  # changed: now the newest
    listed = answers_of(database, a1)
    assert [(a.image_id, a.mood, a.changes) for a in listed] == [
        (ids[0], "Peaceful", 1),
        (ids[1], None, 0),
    ]
    assert listed[1].as_dict()["mood"] == "skip"
    assert all(not a.frozen and a.guidelines_version == 1 for a in listed)


def test_an_answer_changed_later_is_recorded_not_overwritten(database, people):
    a1 = people[0]
    [image] = add_images(database, 1)
    vote(database, a1, image, "Happy")
    vote(database, a1, image, "Angry")
    with database.session() as session:
        annotation.withdraw(session=session, actor=a1, image_id=image)
        steps = session.execute(
            select(
                AnswerChange.action,
                AnswerChange.before_mood,
                AnswerChange.after_answered,
                AnswerChange.after_mood,
            ).order_by(AnswerChange.id)
        ).all()
        assert session.get(Image, image).response_count == 0
    assert steps == [
        ("answer", None, True, "Happy"),
        ("change", "Happy", True, "Angry"),
        ("withdraw", "Angry", False, None),
    ]
    assert answers_of(database, a1) == []


def test_a_frozen_answer_is_listed_read_only_and_cannot_be_withdrawn(database, people):
    a1 = people[0]
    [image] = add_images(database, 1)
    vote(database, a1, image, "Happy")
    with database.session() as session:
        session.get(Image, image).frozen_at = utcnow()
    [listed] = answers_of(database, a1)
    assert listed.frozen
    with pytest.raises(FrozenImage), database.session() as session:
        annotation.withdraw(session=session, actor=a1, image_id=image)
    with pytest.raises(FrozenImage):
        vote(database, a1, image, "Tired")


def test_a_withdrawn_slot_can_be_taken_and_then_the_quorum_refuses_the_way_back(
    database, settings, people
):
    [image] = add_images(database, 1)
    for person in people[:4]:
        vote(database, person, image, "Happy")
    with database.session() as session:
        annotation.withdraw(session=session, actor=people[0], image_id=image)
    vote(database, people[4], image, "Tired")  # the freed slot
    # a1 undoes the withdrawal: the image has its 4 answers from others now.
    with pytest.raises(QuorumReached), database.session() as session:
        annotation.undo(session=session, actor=people[0], settings=settings)
    with database.session() as session:
        assert session.get(Image, image).response_count == 4


def test_undo_survives_a_reload_it_reads_the_database(database, settings, people):
    a1 = people[0]
    ids = add_images(database, 2)
    first_tab = annotation.Outbox()
    entries = [
        {"seq": 1, "image_id": ids[0], "mood": "Happy"},
        {"seq": 2, "image_id": ids[1], "mood": "Tired"},
    ]
    annotation.apply_outbox(
        session_factory=database.session, actor=a1, outbox=first_tab, entries=entries
    )
    # A reload: a fresh tab with a fresh outbox, which never saw these answers.
    reloaded = annotation.Outbox()
    with database.session() as session:
        assert annotation.can_undo(session=session, actor=a1)
    annotation.apply_outbox(
        session_factory=database.session,
        actor=a1,
        outbox=reloaded,
        entries=[{"seq": 1, "undo": True}],
    )
    assert reloaded.error is None and reloaded.undone == ids[1]
    with database.session() as session:
        assert dict(session.execute(select(ImageVote.image_id, ImageVote.mood)).all()) == {
            ids[0]: "Happy"
        }
        queue = annotation.next_images(
            session=session, actor=a1, settings=settings, limit=5, first=reloaded.undone
        )
    assert [image.id for image in queue] == [ids[1]]


def test_undo_names_the_image_it_undoes_and_restores_a_changed_answer(database, people):
    a1 = people[0]
    ids = add_images(database, 2)
    vote(database, a1, ids[0], "Happy")
    vote(database, a1, ids[0], "Dynamic")
    vote(database, a1, ids[1], "Tired")
    with database.session() as session:
        # The newest step is on ids[1]; the browser asks for ids[0]'s.
        assert annotation.undo(session=session, actor=a1, image_id=ids[0]) == ids[0]
    with database.session() as session:
        moods = dict(session.execute(select(ImageVote.image_id, ImageVote.mood)).all())
        assert moods == {ids[0]: "Happy", ids[1]: "Tired"}
        annotation.undo(session=session, actor=a1, image_id=ids[0])
        annotation.undo(session=session, actor=a1)
    with pytest.raises(annotation.NothingToUndo), database.session() as session:
        annotation.undo(session=session, actor=a1)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ImageVote)) == 0


def test_a_second_tab_asks_before_it_replaces_the_first_tabs_answer(database, people):
    a1 = people[0]
    [image] = add_images(database, 1)
    tab_one, tab_two = annotation.Outbox(), annotation.Outbox()
    # Both tabs had the image on screen; tab one answers first.
    annotation.apply_outbox(
        session_factory=database.session,
        actor=a1,
        outbox=tab_one,
        entries=[{"seq": 1, "image_id": image, "mood": "Happy"}],
    )
    annotation.apply_outbox(
        session_factory=database.session,
        actor=a1,
        outbox=tab_two,
        entries=[{"seq": 1, "image_id": image, "mood": "Angry"}],
    )
    [conflict] = tab_two.conflicts
    assert isinstance(conflict, AlreadyAnswered)
    assert (conflict.image_id, conflict.mood_now, conflict.mood_new) == (image, "Happy", "Angry")
    assert "You already answered image" in str(conflict) and "replace it with Angry" in str(
        conflict
    )
    with database.session() as session:
        assert session.scalar(select(ImageVote.mood)) == "Happy"  # not replaced unasked
        # The annotator says "replace".
        annotation.answer(session=session, actor=a1, image_id=image, mood=conflict.mood_new)
    with database.session() as session:
        assert session.scalar(select(ImageVote.mood)) == "Angry"
        assert session.scalar(select(func.count()).select_from(AnswerChange)) == 2
