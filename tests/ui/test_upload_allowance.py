"""Which runs let a tab upload (moodlab/ui/uploads.py), through AppTest: a run that
draws an upload field allows its limit, and a run that draws none takes it back.

The runs go through a script shaped like app.py (start_of_run, the page, end_of_run
in ``finally``): AppTest's switch_page runs a page file on its own, without app.py.
The Crawl & import and Music pages' own limits are checked on the pages themselves.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from moodlab.ui import uploads
from tests.test_pages import app

SCRIPT = """
import streamlit as st
from moodlab.ui import uploads

uploads.start_of_run()
try:
    if st.session_state.get("page") == "upload":
        uploads.file_uploader("A file", max_bytes=1234)
    elif st.session_state.get("page") == "stop":
        st.stop()
finally:
    uploads.end_of_run()
"""


@pytest.fixture(autouse=True)
def no_allowances():
    uploads._allowances.clear()
    yield
    uploads._allowances.clear()


def test_a_run_without_an_upload_field_takes_the_allowance_back(tmp_path):
    script = tmp_path / "app_like.py"
    script.write_text(SCRIPT)
    at = AppTest.from_file(str(script), default_timeout=30).run()  # slow under load
    assert uploads._allowances == {}, "a page without an upload field allows nothing"
    at.session_state["page"] = "upload"
    at.run()
    assert list(uploads._allowances.values()) == [1234]
    at.run()
    assert list(uploads._allowances.values()) == [1234], "a rerun of the page keeps it"
    at.session_state["page"] = "stop"  # a login form stops the run before any field
    at.run()
    assert uploads._allowances == {}


def test_the_login_page_lets_no_tab_upload(database, lead):
    app()
    assert uploads._allowances == {}


@pytest.mark.parametrize(
    ("page", "limit"),
    [("pages/crawl.py", "upload_max_bytes"), ("pages/music.py", "music_max_bytes")],
)
def test_a_page_with_an_upload_field_allows_its_own_limit(database, settings, lead, page, limit):
    app(lead).switch_page(page).run()
    assert list(uploads._allowances.values()) == [getattr(settings, limit)]
