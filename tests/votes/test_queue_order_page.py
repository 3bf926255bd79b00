"""The Agreement page's early-stop line and the lead's queue-order choice, through AppTest."""

from __future__ import annotations

from sqlalchemy import select

from moodlab.core.models import Job, QueueScore, Role, TrainedModel
from moodlab.votes import annotation, order
from tests.conftest import add_user
from tests.test_pages import _images_with_files, app, texts


def test_agreement_page_counts_votes_saved_and_lets_the_lead_choose_the_order(
    database, settings, lead
):
    first, second = _images_with_files(database, settings, 2)
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(3)]
    for person in people:
        with database.session() as session:
            annotation.answer(session=session, actor=person, image_id=first, mood="Happy")
            annotation.answer(session=session, actor=person, image_id=second, mood="skip")
    at = app(lead).switch_page("pages/agreement.py").run()
    assert not at.exception
    assert "Votes saved: 2 answers not asked for. 2 images left every queue" in texts(at)
    assert "Each annotator's own order." in texts(at)

    # Model order without an active model: refused with the reason, nothing chosen.
    at.radio(key="queue-order").set_value("model").run()
    at.button(key="queue-apply").click().run()
    assert "no model is active" in texts(at)
    with database.session() as session:
        assert order.current_order(session).kind == "own"
        session.add(
            TrainedModel(arch="plain", path="m.keras", active=True, cv_scores={}, report={})
        )
    at.number_input(key="queue-share").set_value(0.4).run()
    at.button(key="queue-apply").click().run()
    assert not at.exception
    assert "The model's order, chosen by lena." in texts(at)  # at once, not on the next visit
    with database.session() as session:
        choice = order.current_order(session)
        assert (choice.kind, choice.random_share, choice.chosen_by) == ("model", 0.4, "lena")
        assert session.scalar(select(Job.kind)) == "queue_scores"
    at = app(lead).switch_page("pages/agreement.py").run()
    assert "The model's order, chosen by lena." in texts(at)
    assert "has not scored the waiting images yet" in texts(at)
    with database.session() as session:
        model_id = session.scalar(select(TrainedModel.id))
        session.add(QueueScore(image_id=first, model_id=model_id, uncertainty=0.5, rank=0.0))
    at = app(lead).switch_page("pages/agreement.py").run()
    assert f"1 image scored by the active model #{model_id}" in texts(at)
