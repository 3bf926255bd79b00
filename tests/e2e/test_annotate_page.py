"""An annotator votes with the keyboard; the key-to-next-image latency is measured.

The latency is reported (printed and saved to test-artifacts/), not asserted: a
timed assertion would make CI flaky on a busy machine. README quotes a run.
"""

import json
import statistics
import time

import pytest
from sqlalchemy import select

from moodlab.config import Settings
from moodlab.db import Database
from moodlab.intake import Intake, Provenance
from moodlab.models import ImageVote, Role
from tests import media
from tests.conftest import PASSWORD, add_user
from tests.e2e.conftest import ARTIFACTS, screenshot

pytestmark = pytest.mark.e2e
VOTES = 24
NEW_IMAGE_PAINTED = """(before) => {
    const img = document.querySelector('[data-testid="stImage"] img');
    return img && img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0;
}"""


def test_keyboard_voting_and_its_latency(server, browser_page):
    settings = Settings.from_env()
    database = Database(settings.database_url)
    annotator = add_user(database, "anna", Role.ANNOTATOR)
    intake = Intake(settings, database)
    for i in range(VOTES + 2):  # display copies at the size moodlab keeps them
        intake.add_bytes(media.jpeg(900 + i, (1280, 960)), Provenance(source=f"photo {i}"))

    page = browser_page
    page.goto(server)
    page.get_by_label("User name").fill("anna")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Annotate").click()
    image = page.locator('[data-testid="stImage"] img').first
    image.wait_for()
    page.wait_for_function(NEW_IMAGE_PAINTED, arg="")
    screenshot(page, "06-annotate")

    latencies = []
    for i in range(VOTES):
        before = image.get_attribute("src")
        started = time.perf_counter()
        page.keyboard.press(str(i % 8 + 1))
        page.wait_for_function(NEW_IMAGE_PAINTED, arg=before, polling="raf")
        latencies.append((time.perf_counter() - started) * 1000)

    page.keyboard.press("u")  # undo the last vote
    page.wait_for_timeout(1500)
    with database.session() as session:
        mine = session.scalars(
            select(ImageVote.mood).where(ImageVote.annotator_id == annotator.id)
        ).all()
    assert len(mine) == VOTES - 1

    latencies.sort()
    measured = {
        "votes": VOTES,
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(0.95 * len(latencies)) - 1], 1),
        "max_ms": round(latencies[-1], 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "annotation_latency.json").write_text(json.dumps(measured, indent=2))
    print(f"\nkey press to next image painted: {measured}")
