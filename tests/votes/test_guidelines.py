"""Guidelines: defaults for the eight moods, versions the lead publishes, votes that record them."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from moodlab.core import moods
from moodlab.core.errors import PermissionDenied
from moodlab.core.models import GuidelinesVersion, ImageVote, Role
from moodlab.votes import csv_votes, guidelines
from moodlab.votes.guidelines import GuidelinesError
from tests.conftest import add_user
from tests.votes.test_annotation import add_images, vote


def edited(base: guidelines.Guidelines, **changes: str) -> dict:
    definitions = base.definitions() | changes
    return {
        "intro": base.intro,
        "definitions": definitions,
        "texts": {name: g.text for name, g in base.moods.items()},
        "examples": {name: list(g.examples) for name, g in base.moods.items()},
    }


def test_the_defaults_define_every_mood_on_one_line_and_name_its_neighbours():
    base = guidelines.defaults()
    assert list(base.moods) == moods.names()
    for mood in moods.all_moods():
        guide = base.moods[mood.name]
        assert guide.definition and "\n" not in guide.definition
        assert len(guide.definition) <= guidelines.MAX_DEFINITION
        # The longer text tells the mood from the two beside it on the circle.
        for neighbour in moods.neighbours(mood.name):
            assert neighbour.name in guide.text, (mood.name, neighbour.name)


def test_a_vote_records_the_version_it_was_given_under(database, lead, annotator):
    ids = add_images(database, 2)
    vote(database, annotator, ids[0], "Happy")
    with database.session() as session:
        base = guidelines.current(session)
        assert base.version == 1 and base.created_at is not None  # the defaults, saved
        new = guidelines.publish(
            session=session,
            actor=lead,
            note="Tired is drowsy, not sad",
            **edited(base, Tired="Sleepy or dull; not sad, not lovely."),
        )
        assert new.version == 2 and new.created_by == lead.name
    vote(database, annotator, ids[1], "Tired")
    with database.session() as session:
        query = select(ImageVote.image_id, ImageVote.guidelines_version)
        versions = dict(session.execute(query).all())
        assert versions == {ids[0]: 1, ids[1]: 2}
        history = guidelines.history(session)
        assert [g.version for g in history] == [2, 1]
        assert history[0].changed == ("Tired",)
        uses = {u.version: (u.votes, u.skips) for u in guidelines.versions_in_use(session)}
        assert uses == {2: (1, 0), 1: (1, 0)}


def test_the_votes_export_says_which_version_each_vote_saw(database, lead, annotator, tmp_path):
    ids = add_images(database, 2)
    vote(database, annotator, ids[0], "Happy")
    with database.session() as session:
        base = guidelines.current(session)
        guidelines.publish(session=session, actor=lead, **edited(base, Happy="Joy, plainly."))
    vote(database, annotator, ids[1], "skip")
    out = tmp_path / "votes.csv"
    with database.session() as session:
        csv_votes.export_votes(session=session, actor=lead, path=out)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["mood"], r["guidelines_version"]) for r in rows] == [("Happy", "1"), ("skip", "2")]
    # The file still imports: the extra column is read past.
    with database.session() as session:
        report = csv_votes.import_votes(session=session, actor=lead, path=out)
    assert report.rejected == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Happy": ""}, "Happy: the definition is empty"),
        ({"Angry": "x" * 161}, "Angry: the definition is 161 characters long"),
    ],
)
def test_bad_guidelines_are_refused_naming_the_mood(database, lead, change, message):
    with database.session() as session:
        base = guidelines.current(session)
        with pytest.raises(GuidelinesError, match=message):
            guidelines.publish(session=session, actor=lead, **edited(base, **change))
    with database.session() as session:
        assert (
            session.scalar(select(GuidelinesVersion.version).where(GuidelinesVersion.version > 1))
            is None
        )


def test_examples_must_exist_and_be_at_most_three(database, lead):
    ids = add_images(database, 4)
    with database.session() as session:
        base = guidelines.current(session)
        form = edited(base)
        form["examples"]["Happy"] = ids
        with pytest.raises(GuidelinesError, match="Happy: 4 example images chosen, at most 3"):
            guidelines.publish(session=session, actor=lead, **form)
        form["examples"]["Happy"] = [ids[0], 999]
        with pytest.raises(GuidelinesError, match="Happy: no image with id 999"):
            guidelines.publish(session=session, actor=lead, **form)
        form["examples"]["Happy"] = ids[:2]
        published = guidelines.publish(session=session, actor=lead, **form)
        shown = guidelines.example_images(session, published)
        assert [image.id for image in shown["Happy"]] == ids[:2] and shown["Tired"] == []


def test_nothing_changed_is_no_new_version_and_annotators_may_not_publish(
    database, lead, annotator
):
    with database.session() as session:
        base = guidelines.current(session)
        with pytest.raises(GuidelinesError, match="nothing changed: version 1"):
            guidelines.publish(session=session, actor=lead, **edited(base))
        with pytest.raises(PermissionDenied):
            guidelines.publish(session=session, actor=annotator, **edited(base, Happy="Joy."))


def test_an_annotator_meets_each_new_version_once(database, lead, annotator):
    with database.session() as session:
        assert guidelines.needs_reading(session=session, actor=annotator).version == 1
        guidelines.mark_read(session=session, actor=annotator)
        assert guidelines.needs_reading(session=session, actor=annotator) is None
        base = guidelines.current(session)
        guidelines.publish(session=session, actor=lead, **edited(base, Happy="Joy, plainly."))
        # The lead wrote them; the annotator is shown the new version before voting on.
        assert guidelines.needs_reading(session=session, actor=lead) is None
        assert guidelines.needs_reading(session=session, actor=annotator).version == 2
        assert guidelines.last_read(session=session, actor=annotator) == 1


def test_a_vote_sent_back_for_a_new_round_keeps_its_version(database, lead, annotator):
    from moodlab.core.models import ArchivedVote
    from moodlab.votes import annotation, rounds

    [image] = add_images(database, 1)
    vote(database, annotator, image, "Happy")
    with database.session() as session:
        rounds.send_back(session=session, actor=lead, image=image, reason="unclear")
        assert session.scalar(select(ArchivedVote.guidelines_version)) == 1
        # The answer's step belongs to the closed round: undo says so and stores nothing.
        with pytest.raises(Exception, match=f"your answer on image {image} changed since"):
            annotation.undo(session=session, actor=annotator)


def test_example_candidates_put_the_most_voted_first_then_the_newest(database, lead, annotator):
    ids = add_images(database, 4)
    vote(database, annotator, ids[1], "Tired")
    with database.session() as session:
        offered = guidelines.example_candidates(session=session, actor=lead, mood="tired", limit=3)
        assert [image.id for image in offered] == [ids[1], ids[3], ids[2]]
        with pytest.raises(PermissionDenied):
            guidelines.example_candidates(session=session, actor=annotator, mood="Tired")
    # Kept by the votes' version: a new vote reorders them at once.
    other = add_user(database, "otto", Role.ANNOTATOR)
    vote(database, annotator, ids[2], "Tired")
    vote(database, other, ids[2], "Tired")
    with database.session() as session:
        offered = guidelines.example_candidates(session=session, actor=lead, mood="Tired", limit=3)
        assert [image.id for image in offered] == [ids[2], ids[1], ids[3]]


def test_each_version_shows_how_often_its_votes_agree_with_the_others_majority(database, lead):
    a1, a2, a3, a4 = (add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(1, 5))
    ids = add_images(database, 4)
    vote(database, a1, ids[0], "Happy")
    vote(database, a2, ids[0], "Happy")
    vote(database, a3, ids[0], "Tired")  # the odd one out, under version 1
    with database.session() as session:
        base = guidelines.current(session)
        guidelines.publish(session=session, actor=lead, **edited(base, Tired="Sleepy, not sad."))
    vote(database, a4, ids[0], "Happy")  # others: Happy 2, Tired 1 -> agrees
    vote(database, a1, ids[1], "Angry")
    vote(database, a2, ids[1], "Angry")
    vote(database, a3, ids[2], "skip")  # a skip is no vote: Peaceful has no one to agree with
    vote(database, a4, ids[2], "Peaceful")
    for annotator, mood in zip((a1, a2, a3), ("Happy", "Tired", "Angry"), strict=True):
        vote(database, annotator, ids[3], mood)  # the others tie 1-1: not judged
    with database.session() as session:
        uses = {u.version: u for u in guidelines.versions_in_use(session)}
    # Version 1: a1 and a2 agree with the others' Happy, a3 does not.
    assert (uses[1].judged, uses[1].agreeing) == (3, 2)
    assert (uses[2].judged, uses[2].agreeing) == (3, 3)
    assert uses[2].agreement == 1.0 and uses[1].as_dict()["agreement_with_majority"] == 2 / 3


def test_after_a_vote_the_versions_counts_follow_without_reading_every_vote(
    database, lead, monkeypatch
):
    """Issue 29: every new vote read all the votes again (2.6 s at 100,000 images)."""
    from sqlalchemy import delete

    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(1, 5)]
    ids = add_images(database, 3)
    full_reads = []
    real = guidelines.fetch_rows
    monkeypatch.setattr(guidelines, "fetch_rows", lambda *a: full_reads.append(1) or real(*a))

    def counted() -> dict:
        with database.session() as session:
            kept = {u.version: u for u in guidelines.versions_in_use(session)}
            by_version = guidelines.agreement_by_version(session)
        guidelines.forget_answers()
        with database.session() as session:
            fresh = {u.version: u for u in guidelines.versions_in_use(session)}
            assert guidelines.agreement_by_version(session) == by_version
        assert kept == fresh
        with database.session() as session:  # keep the fresh copy for the next change
            guidelines.versions_in_use(session)
        return {v: (u.votes, u.skips, u.judged, u.agreeing) for v, u in kept.items()}

    guidelines.forget_answers()
    vote(database, people[0], ids[0], "Happy")
    vote(database, people[1], ids[0], "Happy")
    assert counted() == {1: (2, 0, 2, 2)}
    reads = len(full_reads)
    vote(database, people[2], ids[0], "Tired")  # added
    with database.session() as session:
        guidelines.versions_in_use(session)
    assert len(full_reads) == reads  # merged, not read again
    assert counted() == {1: (3, 0, 1, 0)}  # only the odd one out is judged
    with database.session() as session:
        base = guidelines.current(session)
        guidelines.publish(session=session, actor=lead, **edited(base, Tired="Sleepy, not sad."))
    vote(database, people[2], ids[0], "Happy")  # changed, under version 2 now
    vote(database, people[3], ids[1], "skip")
    reads = len(full_reads)
    with database.session() as session:
        assert guidelines.agreement_by_version(session) == {1: (2, 2), 2: (1, 1)}
    assert len(full_reads) == reads
    assert counted() == {2: (1, 1, 1, 1), 1: (2, 0, 2, 2)}
    with database.session() as session:  # removed: read again
        session.execute(delete(ImageVote).where(ImageVote.annotator_id == people[0].id))
    assert counted() == {2: (1, 1, 1, 1), 1: (1, 0, 1, 1)}
    guidelines.forget_answers()
