"""The pages' side of issue 14's data checks: near-duplicates kept on request, low caps."""

from __future__ import annotations

from sqlalchemy import func, select

from moodlab.core.models import Image, Role, Snapshot
from moodlab.images.importer import ImportParams
from moodlab.votes import annotation
from tests.conftest import add_user, run_job
from tests.images.mood_pictures import copies, mood_picture
from tests.test_pages import _images_with_files, app, charts_built_by_a_rerun, texts


def test_crawl_page_shows_near_duplicates_side_by_side_and_keeps_both(
    database, settings, lead, tmp_path
):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    original = mood_picture("Peaceful", 5)
    (first / "lake.jpg").write_bytes(original)
    (second / "lake-q60.jpg").write_bytes(copies(original)["q60"])
    run_job(settings, database, lead, ImportParams(path=str(first)))
    run_job(settings, database, lead, ImportParams(path=str(second)))
    at = app(lead).switch_page("pages/crawl.py").run()
    assert not at.exception
    assert any(e.label.startswith("Near-duplicates (1, 1 not kept)") for e in at.expander)
    assert len(at.get("image")) == 2  # the held candidate beside the stored image
    assert "near-duplicate of image 1" in "\n".join(t.value for t in at.text)
    next(b for b in at.button if b.label == "Keep both").click().run()
    assert not at.exception
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Image)) == 2
    assert "kept as image #2" in texts(at)


def test_datasets_page_warns_of_a_low_cap_and_offers_the_uncapped_set(database, settings, lead):
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
    images = _images_with_files(database, settings, 3)
    for image, mood in zip(images, ["Happy", "Happy", "Tired"], strict=True):
        for person in people:
            with database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    at = app(lead).switch_page("pages/datasets.py").run()
    assert not at.exception
    warning = next(w.value for w in at.warning if w.value.startswith("Too few train images"))
    assert "Tired has only 1 train-tier images" in warning and "minimum of 10" in warning
    assert "2 train and 1 test image;" in texts(at)
    next(b for b in at.button if b.label.startswith("Use every train-tier image")).click().run()
    assert "3 train and 0 test images" in texts(at)
    freeze = next(b for b in at.button if b.label == "Freeze snapshot")
    freeze.click().run()
    next(b for b in at.button if b.label == "Freeze snapshot").click().run()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Snapshot)) == 1


def test_datasets_page_rerun_builds_no_chart_and_a_new_vote_shows(database, settings, lead):
    """Issue 29: the preview's bars are kept by their counts, never past a vote that
    changes them."""

    from tests.test_pages_training import chart_data

    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
    images = _images_with_files(database, settings, 4)

    def everyone_says(image: int, mood: str) -> None:
        for person in people:
            with database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image, mood=mood)

    for image, mood in zip(images, ["Happy", "Happy", "Tired"], strict=False):
        everyone_says(image, mood)
    at = app(lead).switch_page("pages/datasets.py").run()
    assert not at.exception
    built = charts_built_by_a_rerun(at)
    assert not at.exception
    assert built == []
    bars = [row for rows in chart_data(at).values() for row in rows if "set" in row]
    assert {(r["mood"], r["set"]): r["images"] for r in bars if r["images"]} == {
        ("Happy", "train"): 1,
        ("Tired", "train"): 1,
        ("Happy", "test"): 1,  # the train-tier image the cap leaves out
    }
    everyone_says(images[3], "Tired")  # the cap rises to 2 a mood
    at.run()
    assert not at.exception
    bars = [row for rows in chart_data(at).values() for row in rows if "set" in row]
    assert {(r["mood"], r["set"]): r["images"] for r in bars if r["images"]} == {
        ("Happy", "train"): 2,
        ("Tired", "train"): 2,
    }
