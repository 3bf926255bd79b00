"""Guidelines before the first vote, the Guidelines page, My answers, and Agreement's versions."""

from __future__ import annotations

from sqlalchemy import select

from moodlab.core.models import AnswerChange, GuidelinesRead, ImageVote
from moodlab.votes import annotation, guidelines
from tests.test_pages import _images_with_files, app, texts

START = "I have read the guidelines: start"


def test_a_new_annotator_meets_the_guidelines_before_the_first_vote(database, settings, annotator):
    _images_with_files(database, settings, 2)
    at = app(annotator).switch_page("pages/annotate.py").run()
    assert not at.exception
    shown = texts(at)
    assert "Before your first vote" in shown
    assert "Pleasant and lively" in shown  # Happy's definition, from the defaults
    assert "Next to Depressed" in shown  # Tired's text names its neighbours
    [start] = [b for b in at.button if b.label == START]
    start.click().run()
    assert not at.exception
    with database.session() as session:
        assert session.scalar(select(GuidelinesRead.version)) == 1
    at = app(annotator).switch_page("pages/annotate.py").run()
    assert START not in [b.label for b in at.button]
    assert "Before your first vote" not in texts(at)


def test_the_lead_publishes_a_version_with_examples_and_agreement_shows_it(
    database, settings, lead, annotator
):
    ids = _images_with_files(database, settings, 2)
    with database.session() as session:
        annotation.answer(session=session, actor=annotator, image_id=ids[0], mood="Tired")
    at = app(lead).switch_page("pages/guidelines.py").run()
    assert not at.exception
    assert "Version 1, published" in texts(at)
    at.text_input(key="guide-def-Tired").input("Sleepy or dull; not sad.")
    offered = at.multiselect(key="guide-examples-Tired").options
    assert offered[0] == f"image {ids[0]} · 1 of 4 answers"  # voted Tired: offered first
    at.multiselect(key="guide-examples-Tired").select(ids[0])
    at.text_input(key="guide-note").input("Tired is not sad")
    [publish] = [b for b in at.button if b.label == "Publish a new version"]
    publish.click().run()
    assert not at.exception, at.exception
    with database.session() as session:
        current = guidelines.current(session)
    assert current.version == 2 and current.moods["Tired"].examples == (ids[0],)
    assert current.moods["Tired"].definition == "Sleepy or dull; not sad."
    agreement = app(lead).switch_page("pages/agreement.py").run()
    assert not agreement.exception
    assert "The guidelines changed: version 2" in texts(agreement)
    [versions] = [d.value for d in agreement.dataframe if "published" in d.value.columns]
    assert versions["version"].tolist() == [2, 1]
    assert versions["votes"].tolist() == [0, 1]
    # The annotator meets version 2 before the next vote, told that it changed.
    with database.session() as session:
        guidelines.mark_read(session=session, actor=annotator, version=1)
    seen = app(annotator).switch_page("pages/annotate.py").run()
    assert "The guidelines changed since you read them (version 1 to 2)" in texts(seen)
    assert "Sleepy or dull" in texts(seen)


def test_my_answers_changes_and_withdraws_an_answer_on_record(database, settings, annotator):
    ids = _images_with_files(database, settings, 2)
    with database.session() as session:
        annotation.answer(session=session, actor=annotator, image_id=ids[0], mood="Happy")
        annotation.answer(session=session, actor=annotator, image_id=ids[1], mood="Angry")
    at = app(annotator).switch_page("pages/my_answers.py").run()
    assert not at.exception
    assert "**Angry** · image" in texts(at).split("**Happy**")[0]  # newest first
    at.selectbox(key=f"mine-choice-{ids[0]}").select("Peaceful").run()
    [change] = [b for b in at.button if b.key == f"mine-change-{ids[0]}"]
    change.click().run()
    assert not at.exception
    at = app(annotator).switch_page("pages/my_answers.py").run()
    [withdraw] = [b for b in at.button if b.key == f"mine-withdraw-{ids[1]}"]
    withdraw.click().run()
    with database.session() as session:
        moods = dict(session.execute(select(ImageVote.image_id, ImageVote.mood)).all())
        actions = list(session.scalars(select(AnswerChange.action).order_by(AnswerChange.id)))
    assert moods == {ids[0]: "Peaceful"}
    assert actions == ["answer", "answer", "change", "withdraw"]
    at = app(annotator).switch_page("pages/my_answers.py").run()
    [undo] = [b for b in at.button if b.label == "Undo my last answer"]
    undo.click().run()
    with database.session() as session:
        assert session.scalar(select(ImageVote.mood).where(ImageVote.image_id == ids[1])) == "Angry"


def test_the_mood_keys_on_annotate_carry_the_current_versions_definitions(
    database, settings, lead, annotator
):
    import json

    _images_with_files(database, settings, 2)
    base = guidelines.defaults()
    definitions = base.definitions() | {"Tired": "Sleepy or dull; not sad."}
    with database.session() as session:
        guidelines.publish(
            session=session,
            actor=lead,
            intro=base.intro,
            definitions=definitions,
            texts={name: guide.text for name, guide in base.moods.items()},
            examples={},
        )
        guidelines.mark_read(session=session, actor=annotator)
    at = app(annotator).switch_page("pages/annotate.py").run()
    assert not at.exception
    [widget] = at.get("bidi_component")
    data = json.loads(widget.proto.json)
    assert data["guidelines_version"] == 2
    keys = {mood["name"]: (mood["key"], mood["definition"]) for mood in data["moods"]}
    assert keys["Tired"] == ("7", "Sleepy or dull; not sad.")
    assert keys["Happy"] == ("1", base.moods["Happy"].definition)


def test_agreement_compares_the_newest_version_with_the_one_before(database, settings, lead):
    from moodlab.core.models import Role
    from tests.conftest import add_user

    a1, a2, a3 = (add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(1, 4))
    ids = _images_with_files(database, settings, 2)

    def answer(who, image_id, mood):
        with database.session() as session:
            annotation.answer(session=session, actor=who, image_id=image_id, mood=mood)

    answer(a1, ids[0], "Happy")
    answer(a2, ids[0], "Happy")
    answer(a3, ids[0], "Tired")  # a Happy voter's others tie 1-1; Tired's are Happy 2: judged
    base = guidelines.defaults()
    with database.session() as session:
        guidelines.publish(
            session=session,
            actor=lead,
            intro=base.intro,
            definitions=base.definitions() | {"Tired": "Sleepy, not sad."},
            texts={name: guide.text for name, guide in base.moods.items()},
            examples={},
        )
    answer(a1, ids[1], "Angry")
    answer(a2, ids[1], "Angry")
    at = app(lead).switch_page("pages/agreement.py").run()
    assert not at.exception
    notice = "Votes agreeing with the others' majority: 100% under it, 0% under version 1"
    assert notice in texts(at).replace("\\", "")
    [versions] = [d.value for d in at.dataframe if "published" in d.value.columns]
    assert versions["agree with the others' majority"].tolist() == ["100% of 2", "0% of 1"]
