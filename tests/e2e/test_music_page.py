"""The Music page in chromium: an added track shows under its mood with a player."""

import pytest

from tests.conftest import PASSWORD, run_cli
from tests.e2e.conftest import log_in, screenshot
from tests.media import beat_wav

pytestmark = pytest.mark.e2e


def test_music_page_shows_players(server, browser_page, env, tmp_path):
    assert run_cli("users", "add", "lena", "--role", "lead", stdin=PASSWORD + "\n").returncode == 0
    source = tmp_path / "Sunrise.wav"
    source.write_bytes(beat_wav(seconds=12))
    added = run_cli("music", "import", str(source), "--mood", "Happy", "--license", "CC0")
    assert added.returncode == 0, added.stderr

    page = browser_page
    log_in(page, server, "lena", PASSWORD)
    page.get_by_role("link", name="Music", exact=True).click()
    page.get_by_text("Happy (1)").wait_for()
    page.get_by_text("Sunrise").wait_for()
    page.locator("audio").first.wait_for(state="attached")
    assert page.locator("audio").count() == 1
    # The player streams the track from the file route with the login cookie (no bytes
    # in Streamlit's media store): its address is the route's, and the browser gets the
    # file, whole and by range, as a player asks for it.
    audio = page.locator("audio").first
    source = audio.evaluate("a => a.currentSrc || a.src")
    assert "/app/static/files/track/" in source and "Sunrise" not in source
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1")
    assert audio.evaluate("a => a.duration") == pytest.approx(12, abs=0.5)
    answers = page.evaluate(
        """async (url) => {
            const whole = await fetch(url);
            const part = await fetch(url, {headers: {Range: 'bytes=0-99'}});
            return [whole.status, part.status, (await part.arrayBuffer()).byteLength];
        }""",
        source,
    )
    assert answers == [200, 206, 100]
    screenshot(page, "music-page")
