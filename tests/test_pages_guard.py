"""Every page guards itself: run on its own, without app.py, a page shows a visitor who
is not logged in the entry page and nothing else (docs/security.md, "Sessions")."""

from __future__ import annotations

import inspect
import time

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from moodlab.ui.session import ACTOR_KEY, LAST_SEEN_KEY
from tests.conftest import PASSWORD, ROOT

PAGE_SCRIPTS = sorted(path.relative_to(ROOT).as_posix() for path in ROOT.glob("pages/*.py"))
GUARDED = [page for page in PAGE_SCRIPTS if page not in ("pages/login.py", "pages/setup.py")]
LEAD_PAGES = [
    "pages/agreement.py",
    "pages/crawl.py",
    "pages/datasets.py",
    "pages/jobs.py",
    "pages/training.py",
    "pages/users.py",
]
LOGIN_FORM = [
    ("title", "moodlab"),
    ("caption", "Image mood research: crawl, annotate, train, and make mood-matched videos."),
    ("empty", None),
    ("form", None),
    ("text_input", "User name"),
    ("text_input", "Password"),
    ("button", "Log in"),
]


def run_alone(page: str, actor=None) -> AppTest:
    """``page`` run as its own script, as Streamlit's old pages/ folder mode would run it."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=30)
    if actor is not None:
        at.session_state[ACTOR_KEY] = actor
        at.session_state[LAST_SEEN_KEY] = time.time()
    return at.run()


def drawn(at: AppTest) -> list[tuple[str, str | None]]:
    """Every element the run drew, main area and sidebar, as (type, label or value)."""

    def walk(node) -> list[tuple[str, str | None]]:
        found = []
        for child in getattr(node, "children", {}).values():
            shown = getattr(child, "label", None) or getattr(child, "value", None)
            found.append((child.type, None if shown is None else str(shown)))
            found += walk(child)
        return found

    return walk(at.main) + walk(at.sidebar)


@pytest.mark.parametrize("page", PAGE_SCRIPTS)
def test_every_page_run_alone_shows_a_logged_out_visitor_only_the_login_form(database, lead, page):
    at = run_alone(page)
    assert not at.exception
    assert drawn(at) == LOGIN_FORM


@pytest.mark.parametrize("page", [p for p in PAGE_SCRIPTS if p != "pages/login.py"])
def test_on_a_moodlab_without_users_every_page_run_alone_offers_only_first_run_set_up(
    database, page
):
    at = run_alone(page)
    assert not at.exception
    assert [t.value for t in at.title] == ["Welcome to moodlab"]
    assert [b.label for b in at.button] == ["Create lead and log in"]
    assert not at.dataframe and not at.metric and not at.sidebar.children


def test_a_page_run_alone_opens_after_logging_in_there(database, lead):
    at = run_alone("pages/jobs.py")
    at.text_input[0].input("lena")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Jobs"]


@pytest.mark.parametrize("page", LEAD_PAGES)
def test_a_lead_page_run_alone_tells_an_annotator_whose_page_it_is(database, lead, annotator, page):
    at = run_alone(page, annotator)
    assert not at.exception
    assert drawn(at) == [("warning", "This page is for the lab lead.")]


def test_set_up_refuses_once_a_user_exists_even_when_asked_directly(database, lead):
    at = run_alone("pages/setup.py")
    assert "Create lead and log in" not in [b.label for b in at.button]
    assert [t.value for t in at.title] == ["moodlab"]  # the login form instead


def test_streamlit_still_has_the_pages_directory_flag_asgi_py_turns_off():
    """asgi.py sets Streamlit's private PagesManager.uses_pages_directory to False, a
    second guard behind each page's own. Were the flag renamed, that line would set an
    attribute nobody reads: this test says so first."""
    import asgi  # noqa: F401  (importing it sets the flag)

    assert "uses_pages_directory" in vars(PagesManager)
    assert PagesManager.uses_pages_directory is False
    assert "PagesManager.uses_pages_directory" in inspect.getsource(script_runner)
