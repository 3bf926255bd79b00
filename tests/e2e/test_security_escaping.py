"""Crawled text is data, never markup: HTML and script in alt text show as the
characters they are, and nothing from a crawled page runs in the browser.

No page shows crawled page titles at present; the crawled pages carry a hostile
title all the same, and the same text as an alt text, so a page that starts showing
titles the same way is covered."""

import html

import pytest

from tests import media
from tests.conftest import PASSWORD, add_user
from tests.e2e.conftest import log_in, screenshot
from tests.fixture_site import Site

pytestmark = pytest.mark.e2e
# Read by the module's server too (tests/e2e/conftest.py): quick crawls.
SERVER_ENV = {"MOODLAB_CRAWL_DELAY_SECONDS": "0.05"}

# Each would set window.pwned if a page put it into the DOM as HTML: an <img>'s
# onerror runs even from innerHTML; a <script> runs when a page builds it itself.
HOSTILE_ALTS = [
    '<img src=x onerror="window.pwned=1">',
    "<script>window.pwned=2</script>",
    '"><svg onload=window.pwned=3>',
]
HOSTILE_TITLE = "<script>window.pwned=4</script><img src=x onerror=window.pwned=5>"


def markdown_alts(site: Site) -> list[str]:
    """Markdown and HTML that would make the browser call the site or show a link.

    Each is under 40 characters: the gallery shows that much of a caption.
    """
    base = site.url("").rstrip("/")
    return [f"![b]({base}/beacon)", f"[link]({base}/clicked)", f"<img src={base}/beacon2>"]


@pytest.fixture
def hostile_site(env):
    site = Site().start()
    # Escaped in the source, as a real page must write them: the crawler reads the
    # text back, so the stored alt text and title are the raw markup.
    images = "".join(
        f'<img src="/{i}.jpg" alt="{html.escape(alt)}">' for i, alt in enumerate(HOSTILE_ALTS)
    )
    site.add(
        "/",
        f"<!doctype html><html><head><title>{html.escape(HOSTILE_TITLE)}</title></head>"
        f'<body>{images}<a href="/more">more</a><a href="/md">md</a></body></html>',
    )
    markdown = "".join(
        f'<img src="/{4 + i}.jpg" alt="{html.escape(alt)}">'
        for i, alt in enumerate(markdown_alts(site))
    )
    site.add("/md", f"<!doctype html><html><head><title>md</title></head><body>{markdown}</body>")
    site.add(
        "/more",
        f"<!doctype html><html><head><title>{html.escape(HOSTILE_TITLE)}</title></head>"
        f'<body><img src="/3.jpg" alt="{html.escape(HOSTILE_TITLE)}"></body></html>',
    )
    for i in range(7):
        site.add(f"/{i}.jpg", media.jpeg(700 + i, (320, 240)), "image/jpeg")
    yield site
    site.stop()


def test_crawled_alt_text_and_titles_are_shown_as_text_and_never_run(
    hostile_site, server, browser_page
):
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.core.models import Image, Role

    database = Database(Settings.from_env().database_url)
    add_user(database, "lena", Role.LEAD)
    page = browser_page
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, server, "lena", PASSWORD)
    page.get_by_role("link", name="Crawl & import").click()
    page.get_by_label("Seed pages, one URL per line").fill(hostile_site.url("/"))
    page.get_by_text("The seeds are on a private network").click()
    page.get_by_role("button", name="Start crawl").click()
    page.get_by_text("succeeded").first.wait_for(timeout=60_000)

    with database.session() as session:
        stored = set(session.query(Image.alt_text))
    assert {(alt,) for alt in HOSTILE_ALTS} <= stored, "the crawler kept the raw text"

    # The gallery captions (the first 40 characters of each) are the literal text.
    for alt in [*HOSTILE_ALTS, HOSTILE_TITLE]:
        page.get_by_text(alt[:40], exact=True).first.wait_for()
    page.get_by_text(HOSTILE_ALTS[0]).first.scroll_into_view_if_needed()
    screenshot(page, "security-escaping")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator('img[src="x"], svg[onload]').count() == 0
    assert not page.evaluate("[...document.scripts].some(script => script.text.includes('pwned'))")
    assert dialogs == []

    # Markdown and HTML in alt text: shown as typed, no image fetched, no link made.
    payloads = markdown_alts(hostile_site)
    assert {(alt,) for alt in payloads} <= stored
    for alt in payloads:
        page.get_by_text(alt, exact=True).first.wait_for()
    page.get_by_text(payloads[0]).first.scroll_into_view_if_needed()
    screenshot(page, "security-escaping-markdown")
    found = page.locator('a[href*="/clicked"], img[src*="/beacon"]')
    assert found.count() == 0, [
        found.nth(i).evaluate("e => e.outerHTML") for i in range(found.count())
    ]
    assert not [url for url in asked if "/beacon" in url or "/clicked" in url]
    assert hostile_site.requested("/beacon") == hostile_site.requested("/beacon2") == 0
