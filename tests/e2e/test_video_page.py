"""Anyone uploads a short clip on the Video page and gets it back playing, with music."""

import pytest

from tests.conftest import PASSWORD, add_user
from tests.e2e.conftest import log_in, screenshot, upload
from tests.video_media import SHOTS, clip, register_tiny_model, tracks_for_every_mood

pytestmark = pytest.mark.e2e


def test_an_uploaded_clip_comes_back_playing(tmp_path, server, browser_page):
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.core.models import Role

    settings = Settings.from_env()
    database = Database(settings.database_url)
    add_user(database, "anna", Role.ANNOTATOR)
    register_tiny_model(database, settings)
    tracks_for_every_mood(database, settings)
    source = clip(tmp_path / "beach day.mp4", [(SHOTS[0], 4), (SHOTS[1], 4)], size="320x180")

    page = browser_page
    log_in(page, server, "anna", PASSWORD)
    page.get_by_role("link", name="Video").click()
    upload(page, source)
    page.get_by_role("button", name="Generate").click()
    page.get_by_text("succeeded").first.wait_for(timeout=90_000)
    video = page.locator("video").first
    video.wait_for(timeout=30_000)
    # Muted, so that chromium's autoplay policy lets a script start it; started again if
    # a rerun has drawn a new element meanwhile (the wait timed out once at load 11,
    # with two test passes beside it).
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); if (!v) return false;"
        " if (v.paused) { v.muted = true; v.play(); } return v.currentTime > 0.5; }",
        timeout=60_000,
    )
    assert page.evaluate("() => document.querySelector('video').duration") == pytest.approx(
        8, abs=0.2
    )
    screenshot(page, "09-video")
    body = page.inner_text("body")
    for shown in ("Mood over time", "Sampled frames", "History"):
        assert shown in body, shown
