"""A job's end is told on whatever page its user is, and times read in the viewer's zone."""

import pytest

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Role
from moodlab.jobs.actions import start_check
from tests.conftest import PASSWORD, add_user
from tests.e2e.conftest import ARTIFACTS, log_in, pass_the_guidelines

pytestmark = [pytest.mark.e2e, pytest.mark.every_backend]


def test_a_toast_on_another_page_when_my_job_ends_and_times_in_my_zone(server, browser):
    settings = Settings.from_env()
    database = Database(settings.database_url)
    lead = add_user(database, "lena", Role.LEAD)
    # A viewer in Tokyo (no summer time, so the zone's name is always JST).
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        log_in(page, server, "lena", PASSWORD)
        page.get_by_text("What to do next").wait_for()
        page.get_by_role("link", name="Annotate").click()
        pass_the_guidelines(page)
        page.get_by_text("Nothing is waiting for your vote").wait_for()
        # Her job, started elsewhere (the command line, another tab) while she annotates.
        with database.session() as session:
            start_check(session=session, actor=lead, settings=settings)
        toast = page.locator('[data-testid="stToast"]')
        toast.filter(has_text="succeeded").first.wait_for(timeout=60_000)
        assert "#1 worker check succeeded" in toast.first.inner_text()
        assert page.get_by_text("Nothing is waiting for your vote").is_visible()  # still there
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "job-toast-1280.png"))
        page.get_by_role("link", name="Home").click()
        line = page.get_by_test_id("stCaptionContainer").filter(has_text="check succeeded")
        line.wait_for()
        assert " JST · #1" in line.inner_text()
        page.get_by_role("link", name="Jobs").click()
        created = page.get_by_text("· created ").first
        created.wait_for()
        assert " JST · " in created.inner_text()
    finally:
        context.close()
