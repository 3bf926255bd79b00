"""The Training form: settings fitted to the snapshot first, the paper's one choice away."""

from __future__ import annotations

from moodlab.core import moods
from moodlab.core.models import Role
from moodlab.datasets import snapshots as datasets
from moodlab.datasets.snapshots import Rules
from moodlab.votes import annotation
from tests.conftest import add_user
from tests.test_pages import _images_with_files, app


def test_the_training_form_fits_the_snapshot_and_offers_the_papers_settings(
    database, settings, lead
):
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
    images = _images_with_files(database, settings, 24)
    for n, image in enumerate(images):  # 3 agreed images a mood
        for person in people:
            with database.session() as session:
                mood = moods.names()[n % 8]
                annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    with database.session() as session:
        datasets.freeze(session=session, actor=lead, settings=settings, rules=Rules(seed=0))

    at = app(lead).switch_page("pages/training.py").run()
    assert not at.exception
    number = {n.label: n.value for n in at.number_input}
    assert at.selectbox[1].value == "transfer"
    assert (number["Folds"], number["Batch size"], number["Image size"]) == (3, 32, 224)
    assert not [w.value for w in at.warning]  # nothing it would score near chance with

    at.radio[0].set_value("paper").run()
    number = {n.label: n.value for n in at.number_input}
    assert at.selectbox[1].value == "deep"
    assert (number["Folds"], number["Epochs"], number["Batch size"], number["Image size"]) == (
        10,
        60,
        64,
        128,
    )
    warnings = " ".join(w.value for w in at.warning)
    assert "10-fold cross-validation needs at least 10 training images of every mood" in warnings
    assert "The paper's settings (Cho et al. 2019" in at.radio[0].options[1]


def test_fine_tuning_is_offered_for_transfer_only_marked_slow_and_queued_as_chosen(
    database, settings, lead
):
    from sqlalchemy import select

    from moodlab.core.models import Job

    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
    images = _images_with_files(database, settings, 24)
    for n, image in enumerate(images):  # 3 agreed images a mood
        for person in people:
            with database.session() as session:
                mood = moods.names()[n % 8]
                annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    with database.session() as session:
        datasets.freeze(session=session, actor=lead, settings=settings, rules=Rules(seed=0))

    at = app(lead).switch_page("pages/training.py").run()
    label = "Fine-tune the top blocks (slow on a CPU)"
    blocks = next(n for n in at.number_input if n.label == label)
    assert blocks.value == 0 and "slow on a CPU" in blocks.help
    assert not [c.value for c in at.caption if c.value.startswith("Slow on a CPU")]

    blocks.set_value(2).run()
    notes = [c.value for c in at.caption if c.value.startswith("Slow on a CPU")]
    # 3 folds of 16 images and the final model on 24
    assert len(notes) == 1 and "3 folds and the final model: 72 images an epoch" in notes[0]
    at.button[0].click().run()
    assert not at.exception and not at.error
    with database.session() as session:
        job = session.scalars(select(Job)).one()
    assert (job.params["arch"], job.params["fine_tune_blocks"]) == ("transfer", 2)
    assert job.params["fine_tune_epochs"] == 3

    at.selectbox[1].set_value("plain").run()
    assert label not in [n.label for n in at.number_input]
