"""Each page through Streamlit's AppTest, against a real migrated SQLite file."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from moodlab.core.models import JobStatus, Role
from moodlab.images.importer import ImportParams
from moodlab.jobs import queue as jobs
from moodlab.jobs.actions import start_check
from moodlab.ui.session import ACTOR_KEY, LAST_SEEN_KEY
from moodlab.ui.text import plain
from tests.conftest import PASSWORD, ROOT, run_job

APP = str(ROOT / "app.py")


def app(actor=None, *, timeout: float = 30) -> AppTest:
    """The app as a fresh browser session sees it, logged in as ``actor`` if given."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if actor is not None:
        at.session_state[ACTOR_KEY] = actor
        at.session_state[LAST_SEEN_KEY] = time.time()
    return at.run()


def charts_built_by_a_rerun(at: AppTest) -> list[str]:
    """Rerun ``at``; the Altair charts that rerun built (a kept spec builds none)."""
    import altair as alt

    built: list[str] = []
    to_dict = alt.TopLevelMixin.to_dict

    def counted(self, *args, **kwargs):
        built.append(type(self).__name__)
        return to_dict(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(alt.TopLevelMixin, "to_dict", counted)
        at.run()
    return built


def texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.title, *at.subheader)]
    parts += [e.value for e in (*at.error, *at.info, *at.warning, *at.success)]
    return "\n".join(str(p) for p in parts)


def test_first_run_creates_the_first_lead_and_logs_in(database):
    at = app()
    assert at.title[0].value == "Welcome to moodlab"
    at.text_input[0].input("lena")
    at.text_input[1].input(PASSWORD)
    at.text_input[2].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    lead = at.session_state[ACTOR_KEY]
    assert lead.name == "lena"
    # AppTest does not follow st.rerun() to the new navigation; the browser test does.
    assert "What to do next" in texts(app(lead))
    assert app().title[0].value == "moodlab", "set-up must close once a user exists"


def test_first_run_refuses_mismatched_passwords(database):
    at = app()
    at.text_input[0].input("lena")
    at.text_input[1].input(PASSWORD)
    at.text_input[2].input(PASSWORD + "x")
    at.button[0].click().run()
    assert "The two passwords differ." in texts(at)


def test_login_page_once_a_user_exists(database, lead):
    at = app()
    assert at.title[0].value == "moodlab"
    at.text_input[0].input("lena")
    at.text_input[1].input("wrong-password")
    at.button[0].click().run()
    assert "wrong user name or password" in texts(at)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert at.session_state[ACTOR_KEY].name == "lena"


def test_home_shows_next_steps_for_the_lead(database, lead):
    at = app(lead)
    assert not at.exception
    shown = texts(at)
    assert "Add 4 more annotators: each image needs 4 votes." in shown
    assert "No worker is running" in shown


def test_home_for_an_annotator(database, lead, annotator):
    at = app(annotator)
    assert not at.exception
    assert "Hello anna" in texts(at)


def test_navigation_shows_each_role_its_pages(database, lead, annotator):
    from moodlab.ui.navigation import pages_for

    assert [p.title for p in pages_for(Role.LEAD)] == [
        "Home",
        "Annotate",
        "My answers",
        "Guidelines",
        "Music votes",
        "Music",
        "Crawl & import",
        "Pool",
        "Agreement",
        "Datasets",
        "Training",
        "Video",
        "Jobs",
        "Users",
    ]
    assert [p.title for p in pages_for(Role.ANNOTATOR)] == [
        "Home",
        "Annotate",
        "My answers",
        "Guidelines",
        "Music votes",
        "Music",
        "Video",
    ]


@pytest.mark.parametrize(
    "page",
    [
        "pages/users.py",
        "pages/jobs.py",
        "pages/crawl.py",
        "pages/pool.py",
        "pages/agreement.py",
        "pages/datasets.py",
        "pages/training.py",
    ],
)
def test_an_annotator_cannot_open_lead_pages(database, lead, annotator, page):
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app(annotator).switch_page(page)
    # Even run directly, the page stops before showing anything.
    at = AppTest.from_file(str(ROOT / page), default_timeout=30)
    at.session_state[ACTOR_KEY] = annotator
    at.session_state[LAST_SEEN_KEY] = time.time()
    at.run()
    assert texts(at) == "This page is for the lab lead."
    assert not at.dataframe


def test_users_page_adds_an_annotator(database, lead):
    at = app(lead).switch_page("pages/users.py").run()
    assert not at.exception
    form_inputs = [t for t in at.text_input if t.label in ("User name", "Initial password")]
    form_inputs[0].input("anna")
    form_inputs[1].input(PASSWORD)
    next(b for b in at.button if b.label == "Add user").click().run()
    assert not at.exception
    names = list(at.dataframe[0].value["name"])
    assert names == ["anna", "lena"]
    assert list(at.dataframe[0].value["last login"]) == ["never", "never"]


def test_users_page_deactivates_and_reactivates(database, lead, annotator):
    at = app(lead).switch_page("pages/users.py").run()
    at.button(key="toggle-anna").click().run()
    assert list(at.dataframe[0].value["active"]) == [False, True]
    at.button(key="toggle-anna").click().run()
    assert list(at.dataframe[0].value["active"]) == [True, True]


def test_users_page_shows_service_errors(database, lead):
    at = app(lead).switch_page("pages/users.py").run()
    at.button(key="toggle-lena").click().run()
    assert "lena is the last active lead" in texts(at)


def test_jobs_page_lists_jobs_and_cancels_a_queued_one(database, settings, lead):
    with database.session() as session:
        job = start_check(session=session, actor=lead, settings=settings)
    at = app(lead).switch_page("pages/jobs.py").run()
    assert not at.exception
    assert f"#{job.id} worker check" in texts(at)
    at.button(key=f"cancel-{job.id}").click().run()
    with database.session() as session:
        assert (
            jobs.get_job(session=session, actor=lead, job_id=job.id).status == JobStatus.CANCELLED
        )


def test_jobs_page_queues_a_worker_check(database, lead):
    at = app(lead).switch_page("pages/jobs.py").run()
    next(b for b in at.button if b.label == "Check the worker").click().run()
    with database.session() as session:
        assert [j.kind for j in jobs.list_jobs(session=session, actor=lead)] == ["worker_check"]


def test_jobs_page_shows_a_page_of_jobs_at_a_time_and_why_a_job_waits(database, settings, lead):
    with database.session() as session:
        ids = [start_check(session=session, actor=lead, settings=settings).id for _ in range(25)]
    at = app(lead).switch_page("pages/jobs.py").run()
    assert not at.exception
    shown = texts(at)
    # The newest 20, each in a container keyed by its job; then the older 5 on page 2.
    assert f"#{ids[-1]} worker check" in shown and f"#{ids[4]} worker check" not in shown
    assert "Page 1 of 2 · 25 jobs" in shown
    assert "No live worker serves the io queue, so this job waits" in shown
    at.button(key="jobs_older").click().run()
    shown = texts(at)
    assert f"#{ids[4]} worker check" in shown and f"#{ids[5]} worker check" not in shown
    assert "Page 2 of 2 · 25 jobs" in shown


def test_an_idle_session_expires(database, lead):
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[ACTOR_KEY] = lead
    at.session_state[LAST_SEEN_KEY] = 0.0  # 1970: long idle
    at.run()
    assert ACTOR_KEY not in at.session_state
    assert "Your session expired" in texts(at)


def test_a_deactivated_user_is_logged_out_on_the_next_run(database, lead, annotator):
    at = app(annotator)
    from moodlab.core import auth

    with database.session() as session:
        auth.set_active(session=session, actor=lead, name="anna", active=False)
    at.run()
    assert ACTOR_KEY not in at.session_state


@pytest.mark.parametrize("page", ["pages/home.py", "pages/jobs.py", "pages/users.py"])
def test_lead_pages_render_without_exceptions(database, lead, page):
    at = app(lead).switch_page(page).run()
    assert not at.exception


def test_crawl_page_starts_a_crawl_job(database, lead):
    at = app(lead).switch_page("pages/crawl.py").run()
    assert not at.exception
    at.text_area[0].input("https://example.org/gallery\n\nftp://nope.example/")
    next(b for b in at.button if b.label == "Start crawl").click().run()
    assert plain("'ftp://nope.example/' is not an http or https URL") in texts(at)
    at.text_area[0].input("https://example.org/gallery")
    next(b for b in at.button if b.label == "Start crawl").click().run()
    with database.session() as session:
        [job] = jobs.list_jobs(session=session, actor=lead)
    assert job.kind == "crawl" and job.params["seeds"] == ["https://example.org/gallery"]
    assert job.params["allow_private"] is False


def test_crawl_page_shows_an_import_with_counts_rejections_and_gallery(
    database, settings, lead, tmp_path
):
    from tests import media

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(media.jpeg(1))
    (folder / "b.jpg").write_bytes(media.jpeg(1))
    (folder / "c.jpg").write_text("nope")
    run_job(settings, database, lead, ImportParams(path=str(folder)))
    at = app(lead).switch_page("pages/crawl.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Stored"], metrics["Duplicates"], metrics["Rejected"]) == ("1", "1", "1")
    assert "1 stored, 1 duplicate, 1 rejected" in texts(at)  # the card's one-line result
    assert "Arrived" in texts(at)
    assert len(at.get("image")) == 1


def _images_with_files(database, settings, n: int) -> list[int]:
    from moodlab.images.intake import Intake, Provenance
    from tests import media

    intake = Intake(settings, database)
    return [intake.add_bytes(media.jpeg(700 + i), Provenance(source=f"t{i}")) for i in range(n)]


def test_annotate_page_renders_the_annotator(database, settings, annotator):
    _images_with_files(database, settings, 3)
    at = app(annotator).switch_page("pages/annotate.py").run()
    assert not at.exception
    # The widget itself is driven in the browser suite (tests/e2e/test_annotate_page.py).


def test_music_votes_page_renders_the_voter(database, settings, annotator):
    from moodlab.core.models import Track
    from tests.media import wav

    settings.music_dir.mkdir(parents=True, exist_ok=True)
    (settings.music_dir / "calm.wav").write_bytes(wav(seconds=1.0))
    with database.session() as session:
        session.add(Track(path="calm.wav", title="Calm"))
    at = app(annotator).switch_page("pages/music_votes.py").run()
    assert not at.exception
    # The widget itself is driven in the browser suite (tests/e2e/test_music_votes_page.py).


def test_agreement_page_renders_statistics(database, settings, lead):
    from moodlab.votes import annotation
    from tests.conftest import add_user

    [image] = _images_with_files(database, settings, 1)
    for name, mood in (("a1", "Happy"), ("a2", "Happy"), ("a3", "Happy"), ("a4", "Dynamic")):
        person = add_user(database, name, Role.ANNOTATOR)
        with database.session() as session:
            annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    at = app(lead).switch_page("pages/agreement.py").run()
    assert not at.exception
    # The Dawid-Skene estimate runs only once its section is opened (issue 29).
    assert [m.label for m in at.metric] == [
        "Fleiss' kappa",
        "Krippendorff's alpha",
        "Circular alpha",
    ]
    at.session_state["agreement-ds"] = True
    at.run()
    assert not at.exception
    assert [m.label for m in at.metric] == [
        "Fleiss' kappa",
        "Krippendorff's alpha",
        "Circular alpha",
        "Agrees with the unique majority",
        "EM iterations",
    ]
    assert "4 votes and 0 skips on 1 image." in texts(at)
    assert "no_consensus" not in str(at.dataframe[0].value.columns.tolist())
    assert at.metric[3].value == "100.0%"  # Dawid-Skene beside the tiers
    assert [s.value for s in at.subheader][-1] == "Dawid-Skene estimate"


def test_datasets_page_previews_breaks_a_tie_and_freezes(database, settings, lead):
    from moodlab.core.models import Snapshot
    from moodlab.votes import annotation
    from tests.conftest import add_user

    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
    images = _images_with_files(database, settings, 3)
    patterns = [
        ["Happy", "Happy", "Happy", "Tired"],
        ["Tired", "Tired", "Tired", "Happy"],
        ["Angry", "Angry", "Anxiety", "Anxiety"],
    ]
    for image, pattern in zip(images, patterns, strict=True):
        for person, mood in zip(people, pattern, strict=True):
            with database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    at = app(lead).switch_page("pages/datasets.py").run()
    assert not at.exception
    assert "2 train and 0 test images; 1 disputed image waits" in texts(at)
    at.button(key=f"tie-{images[2]}-Anxiety").click().run()
    assert "2 train and 1 test image; 0 disputed images wait" in texts(at)
    next(b for b in at.button if b.label == "Freeze snapshot").click().run()
    with database.session() as session:
        [snapshot] = session.scalars(select(Snapshot)).all()
    assert snapshot.test_counts["Anxiety"] == 1


def test_a_crawl_whose_every_seed_is_refused_fails_with_the_fix_in_the_pages_words(
    database, settings, lead
):
    from moodlab.images.crawl import CrawlParams

    job = run_job(settings, database, lead, CrawlParams(seeds=["http://127.0.0.1:9/"], delay=0))
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("nothing stored: the one URL refused. private address (1)")
    assert "tick 'The seeds are on a private network'" in job.error
    assert job.result["rejected_by_reason"] == {"private_address": 1}  # kept for the page
    at = app(lead).switch_page("pages/crawl.py").run()
    assert not at.exception
    assert "tick 'The seeds are on a private network'" in texts(at)
    assert {m.label: m.value for m in at.metric}["Rejected"] == "1"


def test_forms_keep_what_was_typed_while_the_user_moves_between_pages(database, lead):
    at = app(lead).switch_page("pages/crawl.py").run()
    at.text_area[0].input("https://example.org/kept").run()
    at.number_input(key="crawl.max_pages").set_value(7).run()
    at.checkbox(key="crawl.allow_private").check().run()
    at.switch_page("pages/jobs.py").run()
    assert "crawl.seeds" not in at.session_state  # Streamlit dropped the widget's own state
    at.switch_page("pages/crawl.py").run()
    assert not at.exception
    assert at.text_area[0].value == "https://example.org/kept"
    assert at.number_input(key="crawl.max_pages").value == 7
    assert at.checkbox(key="crawl.allow_private").value is True
    next(b for b in at.button if b.label == "Start crawl").click().run()
    with database.session() as session:
        [job] = jobs.list_jobs(session=session, actor=lead)
    assert job.params["seeds"] == ["https://example.org/kept"] and job.params["max_pages"] == 7


def test_kept_form_values_belong_to_the_user_who_typed_them(database, lead, annotator):
    from moodlab.core import auth

    at = app(lead).switch_page("pages/crawl.py").run()
    at.text_area[0].input("https://example.org/lenas").run()
    with database.session() as session:
        other = auth.create_user(
            session=session, actor=lead, name="lou", role=Role.LEAD, password=PASSWORD
        )
        other_actor = auth.Actor.of(other)
    at.session_state[ACTOR_KEY] = other_actor
    at.switch_page("pages/crawl.py").run()
    assert at.text_area[0].value == ""
