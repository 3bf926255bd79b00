"""The lead fills the pool from a local site through the Crawl & import page."""

import pytest

from tests import media
from tests.conftest import PASSWORD, add_user
from tests.e2e.conftest import log_in, screenshot
from tests.fixture_site import Site

pytestmark = pytest.mark.e2e
# Read by the module's server too (tests/e2e/conftest.py): quick crawls.
SERVER_ENV = {"MOODLAB_CRAWL_DELAY_SECONDS": "0.05"}


@pytest.fixture
def local_site():
    site = Site().start()
    site.page(
        "/",
        "<title>Moods</title>"
        + "".join(f'<img src="/{i}.jpg" alt="photo {i}">' for i in range(6))
        + '<img src="/fake.jpg"><img src="/0-copy.jpg">',
    )
    for i in range(6):
        site.add(f"/{i}.jpg", media.jpeg(500 + i, (320, 240)), "image/jpeg")
    site.add("/0-copy.jpg", media.jpeg(500, (320, 240)), "image/jpeg")
    site.add("/fake.jpg", "not an image", "image/jpeg")
    yield site
    site.stop()


def test_a_crawl_started_in_the_browser_shows_its_arrivals(local_site, server, browser_page):
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.core.models import Role

    add_user(Database(Settings.from_env().database_url), "lena", Role.LEAD)
    page = browser_page
    log_in(page, server, "lena", PASSWORD)
    page.get_by_role("link", name="Crawl & import").click()
    page.get_by_label("Seed pages, one URL per line").fill(local_site.url("/"))
    page.get_by_text("The seeds are on a private network").click()
    page.get_by_role("button", name="Start crawl").click()
    page.get_by_text("succeeded").first.wait_for(timeout=60_000)
    page.get_by_text("photo 5").first.wait_for()
    body = page.inner_text("body")
    assert "Rejected, by reason" in body
    screenshot(page, "05-crawl")
