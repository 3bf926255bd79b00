"""The smallest walk through the real app: set up, log out, log in, see Home."""

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.every_backend]


def test_first_run_login_home_logout(server, browser_page):
    page = browser_page
    page.goto(server)
    page.get_by_text("Welcome to moodlab").wait_for()
    screenshot(page, "01-setup")
    # The first lead may not take a common password; nothing is created.
    page.get_by_label("Lead's user name").fill("lena")
    page.get_by_role("textbox", name="Password", exact=True).fill("password1234")
    page.get_by_label("Password again").fill("password1234")
    page.get_by_role("button", name="Create lead and log in").click()
    page.get_by_text("the password is too easy to guess").wait_for()

    page.get_by_label("Lead's user name").fill("lena")
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create lead and log in").click()
    page.get_by_text("What to do next").wait_for()
    page.get_by_text("1 worker alive").wait_for()  # serve started a worker
    screenshot(page, "02-home-lead")

    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are logged out.").wait_for()
    page.wait_for_function("() => document.title === 'Log in · moodlab'")
    # Password managers fill a login form whose fields say what they hold.
    assert page.get_by_label("User name").get_attribute("autocomplete") == "username"
    field = page.get_by_role("textbox", name="Password")
    assert field.get_attribute("autocomplete") == "current-password"
    page.get_by_label("User name").fill("lena")
    page.get_by_role("textbox", name="Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("wrong user name or password").wait_for()
    screenshot(page, "03-login-failed")

    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("What to do next").wait_for()
    for title in ("Home", "Jobs", "Users"):
        assert page.get_by_role("link", name=title).is_visible()

    assert page.title() == "Home · moodlab"  # each tab names its page

    page.get_by_role("link", name="Jobs").click()
    page.wait_for_function("() => document.title === 'Jobs · moodlab'")
    page.get_by_role("button", name="Check the worker").click()
    page.get_by_text("succeeded").first.wait_for()
    screenshot(page, "04-jobs")

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Log in").wait_for()
