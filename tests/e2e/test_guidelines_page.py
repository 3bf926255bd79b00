"""A new annotator meets the guidelines, keeps them one key away, and corrects answers later.

Screenshots of the new pages at 1280 and 390 px go to test-artifacts/ (and, where
SCREENSHOT_COPY_DIR names a folder, there too).
"""

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import ImageVote, Role
from moodlab.images.intake import Intake, Provenance
from tests import media
from tests.conftest import PASSWORD, add_user
from tests.e2e.conftest import START_ANNOTATING, log_in, screenshot

pytestmark = [pytest.mark.e2e]
SHOWN = "() => window.__moodlabShown && window.__moodlabShown.id"
NO_PLACEHOLDERS = "() => !document.querySelector('[data-testid=\"stSkeleton\"]')"
DRAINED = "() => window.__moodlabAnnotator && window.__moodlabAnnotator.outbox.length === 0"


def shot(page, name: str) -> None:
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
        page.wait_for_timeout(1500)  # the page redraws at the new width, pictures load
        page.wait_for_function(NO_PLACEHOLDERS)
        path = screenshot(page, f"{name}-{width}px")
        if os.environ.get("SCREENSHOT_COPY_DIR"):
            Path(os.environ["SCREENSHOT_COPY_DIR"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(os.environ["SCREENSHOT_COPY_DIR"]) / path.name)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_guidelines_first_then_one_key_away_and_undo_after_a_reload(server, browser_page):
    settings = Settings.from_env()
    database = Database(settings.database_url)
    add_user(database, "lena", Role.LEAD)
    anna = add_user(database, "anna", Role.ANNOTATOR)
    intake = Intake(settings, database)
    for i in range(4):
        intake.add_bytes(media.jpeg(4000 + i, (800, 600)), Provenance(source=f"photo {i}"))

    page = browser_page
    log_in(page, server, "anna", PASSWORD)
    page.get_by_role("link", name="Annotate").click()
    start = page.get_by_role("button", name=START_ANNOTATING)
    start.wait_for()
    assert page.get_by_text("Before your first vote").is_visible()
    assert page.get_by_text("Faded and decaying").is_visible()  # Withered's definition
    assert page.locator("img.ml-image").count() == 0  # no image before the guidelines
    shot(page, "guidelines-before-first-vote")
    start.click()
    page.wait_for_function(SHOWN)

    withered = page.locator(".ml-moods button", has_text="Withered")
    assert "decaying" in withered.get_attribute("title")
    assert "decaying" in withered.inner_text()  # the definition on the key at 1280 px
    guide = page.locator(".ml-guide")
    assert guide.is_hidden()
    page.keyboard.press("?")
    guide.wait_for()
    assert "Tired" in guide.inner_text() and "Sleepy" not in guide.inner_text()
    shot(page, "annotate-guidelines-panel")
    page.keyboard.press("?")
    assert guide.is_hidden()

    first = page.evaluate(SHOWN)
    page.keyboard.press("1")
    page.wait_for_function(f"() => window.__moodlabShown.id !== {first}")
    page.wait_for_function(DRAINED)
    page.reload()  # the tab forgets everything; the database does not
    page.locator(".ml-undo").wait_for()
    page.locator(".ml-undo:not([disabled])").wait_for()
    page.keyboard.press("u")
    page.wait_for_function(f"() => window.__moodlabShown.id === {first}", timeout=15_000)
    with database.session() as session:
        stored = session.scalars(
            select(ImageVote.image_id).where(ImageVote.annotator_id == anna.id)
        ).all()
    assert stored == []

    # Yesterday's answer, corrected on My answers.
    page.keyboard.press("2")
    page.keyboard.press("7")
    page.wait_for_function(DRAINED)  # both answers stored before the page is left
    page.get_by_role("link", name="My answers").click()
    page.get_by_role("heading", name="My answers").wait_for()
    page.get_by_text("guidelines v1").first.wait_for()
    assert page.get_by_text("Tired · image").count() == 1
    shot(page, "my-answers")

    page.context.clear_cookies()  # anna's login ends with her cookie
    log_in(page, server, "lena", PASSWORD)
    page.get_by_role("link", name="Guidelines").click()
    page.get_by_role("heading", name="Edit and publish a new version").wait_for()
    assert page.get_by_text("Version 1, published").is_visible()
    shot(page, "guidelines-lead")


def test_a_second_tab_asks_before_it_replaces_the_first_tabs_answer(server, browser_page):
    settings = Settings.from_env()
    database = Database(settings.database_url)
    anna = add_user(database, "anna", Role.ANNOTATOR)
    intake = Intake(settings, database)
    for i in range(3):
        intake.add_bytes(media.jpeg(4100 + i, (800, 600)), Provenance(source=f"photo {i}"))
    first_tab = browser_page
    log_in(first_tab, server, "anna", PASSWORD)
    first_tab.get_by_role("link", name="Annotate").click()
    first_tab.get_by_role("button", name=START_ANNOTATING).click()
    # A page's first image, decoded and painted: the whole test takes 10 s on an idle
    # machine, yet this wait ran past 30 s once with two more browser tests beside CI's.
    first_tab.wait_for_function(SHOWN, timeout=90_000)
    second_tab = first_tab.context.new_page()  # the same login, a page of its own
    second_tab.goto(first_tab.url)
    second_tab.wait_for_function(SHOWN, timeout=90_000)
    image = first_tab.evaluate(SHOWN)
    assert second_tab.evaluate(SHOWN) == image  # both show the same image

    first_tab.keyboard.press("1")  # Happy
    first_tab.wait_for_function(DRAINED)
    second_tab.keyboard.press("3")  # Angry, on the image the first tab answered
    prompt = second_tab.get_by_text(f"You already answered image {image} as Happy")
    prompt.wait_for()

    def stored():
        with database.session() as session:
            return session.scalar(
                select(ImageVote.mood).where(
                    ImageVote.image_id == image, ImageVote.annotator_id == anna.id
                )
            )

    assert stored() == "Happy"  # not replaced unasked
    screenshot(second_tab, "annotate-second-tab-asks")
    second_tab.get_by_role("button", name="Replace with Angry").click()
    prompt.wait_for(state="detached")
    assert stored() == "Angry"
