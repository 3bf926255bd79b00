"""The label review on the Datasets page (issue 15): votes, probabilities, the two decisions."""

from __future__ import annotations

from sqlalchemy import func, select

from moodlab.core.models import ArchivedVote, Image, ImageExclusion, ImageVote, Role, TrainedModel
from moodlab.votes import annotation
from tests.conftest import add_user
from tests.test_pages import _images_with_files, app, texts


def confident(mood: int) -> list[float]:
    return [0.9 if k == mood else 0.1 / 7 for k in range(8)]


def test_datasets_page_reviews_a_disputed_label_excludes_and_sends_it_back(
    database, settings, lead
):
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(1, 5)]
    images = _images_with_files(database, settings, 3)
    for image in images:
        for person in people:
            with database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image, mood="Happy")
    with database.session() as session:
        shas = [session.get(Image, i).sha256 for i in images]
        # The model thinks the first Happy image is Tired (index 6); a Tired image sets
        # Tired's threshold.
        rows = [
            {"image": shas[0], "label": 0, "probs": confident(6)},
            {"image": shas[1], "label": 0, "probs": confident(0)},
            {"image": shas[2], "label": 0, "probs": confident(0)},
            {"image": "0" * 64, "label": 6, "probs": confident(6)},
        ]
        session.add(
            TrainedModel(
                arch="plain",
                path="models/m.keras",
                cv_scores={"scores": []},
                report={"out_of_fold": rows},
            )
        )
    disputed = images[0]
    at = app(lead).switch_page("pages/datasets.py").run()
    assert not at.exception
    shown = texts(at)
    assert "Labels a model disputes" in shown
    assert "1 of 4 training images have a label the model confidently disputes" in shown
    assert "Not reviewed: Tired has only one training image" in shown
    assert f"image {disputed}" in shown and "the model says **Tired** (90%)" in shown
    assert "Votes, round 1: a1: Happy · a2: Happy · a3: Happy · a4: Happy" in shown
    assert len(at.get("vega_lite_chart")) >= 1  # the probabilities

    # Without a reason nothing is stored, and the error names the image.
    at.button(key=f"exclude-{disputed}").click().run()
    assert f"say why image {disputed} is left out of new snapshots" in at.error[0].value
    at.text_input(key=f"review-reason-{disputed}").input("a watermark")
    at.button(key=f"exclude-{disputed}").click().run()
    assert not at.exception
    with database.session() as session:
        [made] = session.scalars(select(ImageExclusion)).all()
    assert (made.image_id, made.reason, made.excluded_by_id) == (disputed, "a watermark", lead.id)
    assert "Excluded from new snapshots by lena" in texts(at)
    assert "2 train and 0 test images;" in texts(at) and "; 1 excluded by you" in texts(at)
    at.button(key=f"include-{disputed}").click().run()
    with database.session() as session:
        assert session.scalar(select(ImageExclusion.lifted_at)) is not None

    at.text_input(key=f"review-reason-{disputed}").input("looks Tired")
    at.button(key=f"send-back-{disputed}").click().run()
    assert not at.exception
    with database.session() as session:
        archived = session.scalar(select(func.count()).select_from(ArchivedVote))
        current = session.scalar(
            select(func.count()).select_from(ImageVote).where(ImageVote.image_id == disputed)
        )
    assert (archived, current) == (4, 0)
    shown = texts(at)
    assert "Votes, round 2: none yet" in shown
    # The history is read only when its expander is opened.
    assert "Round 1 closed" not in shown
    at.session_state[f"review-history-{disputed}"] = True
    shown = texts(at.run())
    assert "Round 1 closed" in shown and "by lena: looks Tired" in shown


def test_training_page_links_its_disputed_labels_to_the_datasets_page(database, lead):
    rows = [
        {"image": "a" * 64, "label": 0, "probs": confident(6)},
        {"image": "c" * 64, "label": 0, "probs": confident(0)},
        {"image": "b" * 64, "label": 6, "probs": confident(6)},
    ]
    with database.session() as session:
        session.add(
            TrainedModel(
                arch="plain",
                path="models/m.keras",
                cv_scores={"scores": []},
                report={"out_of_fold": rows},
            )
        )
    at = app(lead).switch_page("pages/training.py").run()
    assert not at.exception
    assert any(m.label == "Labels disputed" and m.value == "1 of 3" for m in at.metric)
    links = [e for e in at.get("page_link")]
    assert any("Review the disputed labels on the Datasets page" in str(e.proto) for e in links)
