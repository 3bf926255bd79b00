"""Jobs (lead): every job with live progress, logs and cancel, a page at a time."""

from datetime import timedelta

import streamlit as st

from moodlab.core.dbclock import database_time
from moodlab.core.models import JobStatus, Role
from moodlab.jobs import queue as jobs
from moodlab.jobs.actions import start_check
from moodlab.ui import access, jobs_view, session

# Cards on one page of the list: only these are read and drawn every 2 seconds.
PAGE_SIZE = 20

actor = access.require_role(Role.LEAD)

st.title("Jobs")
st.caption("Long work runs in the workers; this page refreshes every 2 seconds.")

left, right = st.columns([3, 1])
shown = left.multiselect(
    "Show", [s.value for s in JobStatus], default=[s.value for s in JobStatus], key="job_statuses"
)
if right.button("Check the worker", icon=":material/health_and_safety:"):
    with session.database().session() as db:
        job = start_check(session=db, actor=actor, settings=session.settings())
    st.toast(f"Queued worker check #{job.id}")


@st.fragment(run_every="2s")
def job_list() -> None:
    statuses = [JobStatus(s) for s in shown]
    within = timedelta(seconds=session.settings().job_stale_seconds)
    with session.database().session() as db:
        total = jobs.count_jobs(session=db, actor=actor, statuses=statuses)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(st.session_state.get("jobs_page", 1), pages)
        rows = jobs.list_jobs(
            session=db,
            actor=actor,
            statuses=statuses,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        served = jobs.served_queues(session=db, within=within)
        now = database_time(db)
    jobs_view.worker_status()
    if not rows:
        st.info("No jobs yet." if not total else "No jobs on this page.")
        return
    for job in rows:
        jobs_view.job_card(job, actor, details=True, served=served, now=now)
    pager(page, pages, total)


def pager(page: int, pages: int, total: int) -> None:
    # The buttons set the page in their callbacks, before the rerun that draws it.
    newer, where, older = st.columns([1, 2, 1], vertical_alignment="center")
    newer.button(
        "Newer",
        key="jobs_newer",
        disabled=page <= 1,
        icon=":material/chevron_left:",
        on_click=st.session_state.update,
        kwargs={"jobs_page": page - 1},
    )
    where.caption(f"Page {page} of {pages} · {total} jobs", text_alignment="center")
    older.button(
        "Older",
        key="jobs_older",
        disabled=page >= pages,
        icon=":material/chevron_right:",
        on_click=st.session_state.update,
        kwargs={"jobs_page": page + 1},
    )


job_list()
