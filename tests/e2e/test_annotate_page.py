"""An annotator votes with the keyboard; the key-to-next-image latency is measured.

The latency is reported (printed and saved to test-artifacts/), not asserted: a
timed assertion would make CI flaky on a busy machine. docs/benchmarks.md quotes a run.
"""

import json
import statistics
import time

import pytest
from sqlalchemy import select

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import ImageVote, Role
from moodlab.images.intake import Intake, Provenance
from tests import media
from tests.conftest import PASSWORD, add_user
from tests.e2e.conftest import ARTIFACTS, log_in, pass_the_guidelines, screenshot

pytestmark = pytest.mark.e2e
VOTES = 24
SHOWN_ANOTHER = "(before) => window.__moodlabShown && window.__moodlabShown.id !== before"


@pytest.mark.alone  # it measures latency
def test_keyboard_voting_and_its_latency(server, browser_page):
    settings = Settings.from_env()
    database = Database(settings.database_url)
    annotator = add_user(database, "anna", Role.ANNOTATOR)
    intake = Intake(settings, database)
    ids = [  # display copies at the size moodlab keeps them
        intake.add_bytes(media.jpeg(900 + i, (1280, 960)), Provenance(source=f"photo {i}"))
        for i in range(VOTES + 2)
    ]

    page = browser_page
    log_in(page, server, "anna", PASSWORD)
    page.get_by_role("link", name="Annotate").click()
    pass_the_guidelines(page)
    page.locator("img.ml-image").wait_for()
    page.wait_for_function("() => window.__moodlabShown")
    screenshot(page, "06-annotate")
    # Time stamps in the page: the key press, and the next image decoded and painted.
    page.evaluate(
        "() => document.addEventListener('keydown', () => { window.__keyAt = performance.now(); },"
        " true)"
    )

    in_page, wall, shown = [], [], []
    for i in range(VOTES):
        before = page.evaluate("() => window.__moodlabShown.id")
        shown.append(before)
        started = time.perf_counter()
        page.keyboard.press(str(i % 8 + 1))
        page.wait_for_function(SHOWN_ANOTHER, arg=before, polling="raf")
        wall.append((time.perf_counter() - started) * 1000)
        in_page.append(page.evaluate("() => window.__moodlabShown.at - window.__keyAt"))
        page.wait_for_timeout(250)  # a brisk annotator: four votes a second

    page.wait_for_timeout(1500)  # let the last answers reach the server
    page.keyboard.press("u")  # undo the last vote
    page.wait_for_timeout(1500)
    with database.session() as session:
        mine = session.execute(
            select(ImageVote.image_id, ImageVote.mood)
            .where(ImageVote.annotator_id == annotator.id)
            .order_by(ImageVote.image_id)
        ).all()
    # One vote per key, on the images in the order shown (the annotator's own), the last
    # one undone.
    moods_in_order = moods.names()
    assert set(shown) <= set(ids) and len(set(shown)) == VOTES
    assert mine == sorted((shown[i], moods_in_order[i % 8]) for i in range(VOTES - 1))

    def percentiles(values):
        values = sorted(values)
        return {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(values[int(0.95 * len(values)) - 1], 1),
            "max_ms": round(values[-1], 1),
        }

    measured = {
        "votes": VOTES,
        "key_to_painted_in_page": percentiles(in_page),
        "key_to_painted_seen_by_playwright": percentiles(wall),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "annotation_latency.json").write_text(json.dumps(measured, indent=2))
    print(f"\nkey press to next image painted: {measured}")


# Every key press, as the page received it: the key, and the id of the image on screen
# (None when no image was: the widget was loading). A capture listener on document runs
# before the widget's own.
RECORD_PRESSES = """() => {
  window.__presses = [];
  document.addEventListener('keydown', (event) => {
    const s = window.__moodlabAnnotator;
    const stage = s.root.querySelector('.ml-stage');
    const img = s.root.querySelector('.ml-image');
    window.__presses.push({key: event.key, id: stage.hidden ? null : Number(img.dataset.imageId)});
  }, true);
}"""
DRAINED = "() => window.__moodlabAnnotator && window.__moodlabAnnotator.outbox.length === 0"


@pytest.mark.alone  # fast keys must never outrun the widget's prefetch, however busy
def test_fast_keys_never_run_dry_and_land_on_the_image_on_screen(server, browser_page):
    settings = Settings.from_env()
    database = Database(settings.database_url)
    annotator = add_user(database, "anna", Role.ANNOTATOR)
    intake = Intake(settings, database)
    for i in range(90):
        intake.add_bytes(media.jpeg(2000 + i, (640, 480)), Provenance(source=f"photo {i}"))

    page = browser_page
    log_in(page, server, "anna", PASSWORD)
    page.get_by_role("link", name="Annotate").click()
    pass_the_guidelines(page)
    page.locator("img.ml-image").wait_for()
    page.evaluate(RECORD_PRESSES)
    names = moods.names()
    for pause_ms in (30, 120):
        for n in range(40):
            page.keyboard.press(str(n % 8 + 1))
            page.wait_for_timeout(pause_ms)
        page.wait_for_function(DRAINED, timeout=60_000)
    presses = page.evaluate("() => window.__presses")
    assert len(presses) == 80
    dry = [i for i, p in enumerate(presses) if p["id"] is None]
    assert dry == [], f"the widget ran dry while images remained, at presses {dry}"
    expected = {p["id"]: names[int(p["key"]) - 1] for p in presses}
    assert len(expected) == 80, "two presses named the same image"
    page.wait_for_timeout(500)
    with database.session() as session:
        stored = dict(
            session.execute(
                select(ImageVote.image_id, ImageVote.mood).where(
                    ImageVote.annotator_id == annotator.id
                )
            ).all()
        )
    assert stored == expected  # every vote, on the image that was on screen, nothing else
    assert page.locator(".ml-error").is_hidden()


def test_the_mood_buttons_wrap_on_a_phone(server, browser_page):
    settings = Settings.from_env()
    database = Database(settings.database_url)
    add_user(database, "anna", Role.ANNOTATOR)
    Intake(settings, database).add_bytes(media.jpeg(3000, (640, 480)), Provenance(source="p"))
    page = browser_page
    log_in(page, server, "anna", PASSWORD)
    page.get_by_role("link", name="Annotate").click()
    pass_the_guidelines(page)
    page.locator("img.ml-image").wait_for()
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    buttons = page.locator(".ml-annotator button[data-key]")
    assert buttons.count() == 11  # eight moods, skip, undo, the guidelines (?)
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        label = buttons.nth(i).inner_text()
        inner = buttons.nth(i).evaluate("(b) => b.scrollWidth <= b.clientWidth")
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, label
        assert inner, f"the label of {label!r} is cut off"
    screenshot(page, "annotate-390px")


# Where the image and the ten buttons are, with the page scrolled to its top.
GEOMETRY = """() => {
  const s = window.__moodlabAnnotator;
  const box = (el) => el.getBoundingClientRect();
  const image = box(s.root.querySelector('.ml-image'));
  const buttons = [...s.root.querySelectorAll('button[data-key]')].map((b) => ({
    label: b.innerText, ...box(b).toJSON(), clipped: b.scrollWidth > b.clientWidth,
  }));
  return {image: image.toJSON(), buttons, height: window.innerHeight, width: window.innerWidth};
}"""
PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}
SHOTS = ARTIFACTS / "annotate-fit"


def check_fit(page, size: dict, name: str) -> None:
    """The image and all ten actions on one screen; no empty stage under the image."""
    page.wait_for_function("() => window.__moodlabShown")
    page.set_viewport_size(size)
    page.wait_for_timeout(700)  # the layout, and the widget's fit after it
    g = page.evaluate(GEOMETRY)
    image, buttons = g["image"], g["buttons"]
    assert len(buttons) == 11  # the ten actions and the guidelines (?)
    for b in buttons:
        assert b["top"] >= 0 and b["bottom"] <= g["height"], f"{b['label']} off screen: {g}"
        assert b["left"] >= 0 and b["right"] <= g["width"], f"{b['label']} cut at the side"
        assert not b["clipped"], f"the label of {b['label']!r} is cut off"
        assert b["height"] >= 44, f"{b['label']} is smaller than a finger ({b['height']} px)"
    first_row = min(b["top"] for b in buttons)
    assert image["bottom"] <= first_row, "the image runs under the buttons"
    assert first_row - image["bottom"] <= 24, f"an empty band under the image: {g}"
    assert image["height"] >= 150, f"the image is squeezed: {image}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{size['width']}.png"))


@pytest.mark.alone  # each skip waits a fixed 0.3 s for the next image
def test_the_image_and_all_ten_actions_fit_a_phone_and_a_laptop(server, browser_page):
    settings = Settings.from_env()
    database = Database(settings.database_url)
    add_user(database, "anna", Role.ANNOTATOR)
    intake = Intake(settings, database)
    sizes = {"small": (320, 200), "portrait": (900, 1200), "large": (2400, 1600)}
    ids = {
        intake.add_bytes(media.jpeg(4000 + i, size), Provenance(source=name)): name
        for i, (name, size) in enumerate(sizes.items())
    }
    page = browser_page
    log_in(page, server, "anna", PASSWORD)
    page.get_by_role("link", name="Annotate").click()
    pass_the_guidelines(page)
    page.wait_for_function("() => window.__moodlabShown")
    for _ in ids:
        shown = page.evaluate("() => window.__moodlabShown.id")
        name = ids[shown]
        check_fit(page, PHONE, name)
        if name == "small":  # shown at its own size, not blown up
            assert page.locator(".ml-image").bounding_box()["width"] == 320
        if name == "large":
            # A tap shows the original's own pixels, over the whole window; a tap closes it.
            page.locator(".ml-image").click()
            zoomed = page.locator(".ml-zoom-image")
            zoomed.wait_for()
            page.wait_for_function(
                "() => { const z = document.querySelector('.ml-zoom-image')"
                " || window.__moodlabAnnotator.root.querySelector('.ml-zoom-image');"
                " return z.dataset.full === 'yes' && z.complete && z.naturalWidth === 2400; }"
            )
            page.get_by_text("2400 × 1600 px, full resolution").wait_for()
            box = page.locator(".ml-zoom").bounding_box()
            assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "zoom-390.png"))
            zoomed.click(position={"x": 5, "y": 5})
            page.locator(".ml-zoom").wait_for(state="hidden")
        check_fit(page, LAPTOP, name)
        if name == "large":  # on a laptop too: Z opens, Esc closes
            page.keyboard.press("z")
            page.get_by_text("2400 × 1600 px, full resolution").wait_for()
            page.screenshot(path=str(SHOTS / "zoom-1280.png"))
            page.keyboard.press("Escape")
            page.locator(".ml-zoom").wait_for(state="hidden")
        page.keyboard.press("0")  # skip to the next
        page.wait_for_timeout(300)
    with database.session() as session:
        stored = session.scalars(select(ImageVote.image_id)).all()
    assert sorted(stored) == sorted(ids)  # the zoom voted nothing; each skip is one answer
