"""The Pool page through AppTest: the gallery pages, searches and acts on ticked images."""

from __future__ import annotations

from sqlalchemy import select

from moodlab.core.models import ImageExclusion
from moodlab.images.intake import Intake, Provenance
from tests import media
from tests.test_pages import app, texts


def _stock(settings, database, n: int) -> list[int]:
    intake = Intake(settings, database)
    return [
        intake.add_bytes(media.jpeg(9000 + i), Provenance(source=f"/shoot/frame_{i:03d}.jpg"))
        for i in range(n)
    ]


def test_the_gallery_pages_through_every_image(settings, database, lead):
    ids = _stock(settings, database, 50)
    at = app(lead).switch_page("pages/pool.py").run()
    assert not at.exception
    assert "50 images match · page 1 of 2" in texts(at)
    shown = [t.value for t in at.text if t.value.startswith("#")]
    assert len(shown) == 48 and shown[0].startswith(f"#{ids[-1]} pending")
    at.number_input(key="pool-page").set_value(2).run()
    assert "page 2 of 2" in texts(at)
    assert [t.value.split()[0] for t in at.text if t.value.startswith("#")] == [
        f"#{ids[1]}",
        f"#{ids[0]}",
    ]


def test_search_then_exclude_the_ticked_images(settings, database, lead):
    ids = _stock(settings, database, 12)
    at = app(lead).switch_page("pages/pool.py").run()
    at.text_input(key="pool-search").input("frame_00").run()
    assert "10 images match" in texts(at)
    at.checkbox(key=f"pool-pick-{ids[3]}").check().run()
    at.checkbox(key=f"pool-pick-{ids[4]}").check().run()
    assert "With the 2 picked on this page" in texts(at)
    at.text_input[1].input("out of focus").run()
    at.button[[b.label for b in at.button].index("Exclude from new snapshots")].click().run()
    assert not at.exception and not at.error
    with database.session() as session:
        excluded = session.scalars(select(ImageExclusion.image_id)).all()
    assert sorted(excluded) == [ids[3], ids[4]]
    at.selectbox(key="pool-excluded").select("excluded").run()
    assert "2 images match" in texts(at)


def test_the_label_review_pages_through_every_disputed_label(settings, database, lead):
    from moodlab.core.models import Image, TrainedModel
    from tests.test_pages_review import confident

    ids = _stock(settings, database, 30)
    with database.session() as session:
        shas = [session.get(Image, i).sha256 for i in ids]
        # The model thinks 14 of the 30 Happy images are Tired; Tired images set the bar.
        rows = [
            {"image": sha, "label": 0, "probs": confident(6 if n < 14 else 0)}
            for n, sha in enumerate(shas)
        ]
        rows += [{"image": f"{k:064x}", "label": 6, "probs": confident(6)} for k in range(3)]
        session.add(
            TrainedModel(
                arch="plain",
                path="models/m.keras",
                cv_scores={"scores": []},
                report={"out_of_fold": rows},
            )
        )
    at = app(lead).switch_page("pages/datasets.py").run()
    assert not at.exception
    assert "14 of 33 training images have a label the model confidently disputes" in texts(at)
    first = {b.key for b in at.button if (b.key or "").startswith("exclude-")}
    assert len(first) == 12
    [page] = [n for n in at.number_input if (n.key or "").startswith("review-page-")]
    page.set_value(2).run()
    second = {b.key for b in at.button if (b.key or "").startswith("exclude-")}
    assert len(second) == 2 and not first & second
    assert {int(k.removeprefix("exclude-")) for k in first | second} == set(ids[:14])


def test_pick_all_on_a_page_then_none(settings, database, lead):
    ids = _stock(settings, database, 5)
    at = app(lead).switch_page("pages/pool.py").run()
    at.button(key="pool-all").click().run()
    assert "With the 5 picked on this page" in texts(at)
    assert all(at.checkbox(key=f"pool-pick-{i}").value for i in ids)
    at.button(key="pool-none").click().run()
    assert "With the 0 picked on this page" in texts(at)
