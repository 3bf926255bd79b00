"""A login lasts across reloads and deep links (docs/security.md, "Sessions")."""

import pytest

from tests.conftest import PASSWORD, add_user
from tests.e2e.conftest import log_in, screenshot, session_cookie

pytestmark = pytest.mark.e2e


@pytest.fixture
def users(server):
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.core.models import Role

    database = Database(Settings.from_env().database_url)
    add_user(database, "lena", Role.LEAD)
    add_user(database, "anna", Role.ANNOTATOR)
    yield database
    database.dispose()


def test_a_login_survives_a_reload_and_logout_ends_it(server, users, browser_page):
    page = browser_page
    log_in(page, server, "lena", PASSWORD)
    page.get_by_text("What to do next").wait_for()
    cookie = session_cookie(page)  # log_in waited for it
    assert cookie is not None
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("moodlab_session") == -1, "not readable by JS"
    page.reload()
    page.get_by_text("What to do next").wait_for()
    assert page.get_by_text("Logged in as").first.is_visible()
    screenshot(page, "session-after-reload")

    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are logged out.").wait_for()
    page.wait_for_timeout(500)
    page.reload()
    page.get_by_role("button", name="Log in").wait_for()


def test_a_stolen_cookie_of_an_ended_session_opens_nothing(server, users, browser_page):
    page = browser_page
    log_in(page, server, "anna", PASSWORD)
    page.get_by_text("Hello anna").wait_for()
    cookie = session_cookie(page)  # log_in waited for it
    assert cookie is not None
    token = cookie["value"]
    from moodlab.core import auth
    from moodlab.core.auth import Actor

    with users.session() as session:
        auth.set_password(
            session=session, actor=Actor.command_line(), name="anna", password="a-new-secret"
        )
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "moodlab_session", "value": token, "url": server}])
    page.goto(server)
    page.get_by_role("button", name="Log in").wait_for()


def test_deep_links_open_after_login_or_say_whose_page_it_is(server, users, browser_page):
    page = browser_page
    # Logged out: the login form at the address asked for, then that page. This is
    # the fresh server's first visitor, which Streamlit once sent to pages/training.py
    # directly, past app.py's login (asgi.py).
    page.goto(f"{server}/training")
    page.get_by_label("User name").fill("lena")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Training").first.wait_for()
    assert page.url.rstrip("/").endswith("/training")
    assert page.get_by_text("Page not found").count() == 0
    # Logged in, a typed address opens the page.
    page.wait_for_timeout(500)
    page.goto(f"{server}/jobs")
    page.get_by_role("button", name="Check the worker").wait_for()
    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are logged out.").wait_for()

    # An annotator at a lead page is told whose page it is.
    page.goto(f"{server}/training")
    page.get_by_label("User name").fill("anna")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("This page is for the lab lead.").wait_for()
    assert page.get_by_text("Page not found").count() == 0
    screenshot(page, "session-deep-link-annotator")
    page.wait_for_timeout(500)
    page.goto(f"{server}/users")
    page.get_by_text("This page is for the lab lead.").wait_for()
    assert page.get_by_role("button", name="Add user").count() == 0


def test_a_fresh_servers_first_visitor_at_a_lead_page_gets_only_first_run_set_up(
    server, browser_page
):
    # No users yet, and no script has run on this server: the first thing it serves is
    # /training. Neither Streamlit's old pages/ folder mode nor the page may show it.
    page = browser_page
    page.goto(f"{server}/training")
    page.get_by_role("heading", name="Welcome to moodlab").wait_for()
    page.get_by_role("button", name="Create lead and log in").wait_for()
    assert page.get_by_role("heading", name="Training").count() == 0
    assert page.get_by_role("button", name="Start training").count() == 0
    assert page.get_by_role("link", name="Training").count() == 0  # no page list either
    assert page.get_by_text("Page not found").count() == 0


def test_a_fresh_servers_first_visitor_at_a_lead_page_gets_only_the_login_form(
    server, users, browser_page
):
    page = browser_page
    page.goto(f"{server}/users")
    page.get_by_role("button", name="Log in").wait_for()
    assert page.get_by_role("heading", name="Users").count() == 0
    assert page.get_by_role("button", name="Add user").count() == 0
    assert page.get_by_role("link", name="Users").count() == 0
    assert page.get_by_text("Page not found").count() == 0
