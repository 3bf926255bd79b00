"""DNS rebinding in chromium: a page at a name that resolves to 127.0.0.1 does not get
the loopback moodlab (docs/security.md, "The Host check").

Chromium maps ``rebind.test`` to 127.0.0.1 itself (``--host-resolver-rules``), as a
rebinding DNS server would; nothing leaves this machine.
"""

from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path, screenshot

pytestmark = pytest.mark.e2e

REBIND_NAME = "rebind.test"


@pytest.fixture(scope="module")
def rebinding_browser():
    from playwright.sync_api import sync_playwright

    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBIND_NAME} 127.0.0.1"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=args)
        yield browser
        browser.close()


def test_a_rebound_name_does_not_open_the_first_run_page(server, rebinding_browser):
    port = urlsplit(server).port
    context = rebinding_browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        # The same server at its own address: the first-run page (the fresh install).
        page.goto(server)
        page.get_by_role("heading", name="Welcome to moodlab").wait_for()
        response = page.goto(f"http://{REBIND_NAME}:{port}/")
        assert response is not None and response.status == 400
        page.wait_for_timeout(2_000)  # time for any script to have drawn a page
        screenshot(page, "rebinding-refused")
        assert page.get_by_text("Welcome to moodlab").count() == 0
        assert "does not answer to that Host" in page.content()
        # Nor can its scripts reach the app's routes under that name.
        status = page.evaluate("fetch('/_stcore/health').then(r => r.status)")
        assert status == 400
    finally:
        context.close()
