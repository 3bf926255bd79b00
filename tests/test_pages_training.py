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
