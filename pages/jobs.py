"""Jobs (lead): every job with live progress, logs and cancel."""

import streamlit as st

from moodlab.core.models import JobStatus, Role
from moodlab.jobs import queue as jobs
from moodlab.jobs.actions import start_check
from moodlab.ui import access, jobs_view, session

actor = access.require_role(Role.LEAD)

st.title("Jobs")
st.caption("Long work runs in the worker; this page refreshes every 2 seconds.")

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
    with session.database().session() as db:
        rows = jobs.list_jobs(session=db, actor=actor, statuses=[JobStatus(s) for s in shown])
    jobs_view.worker_status()
    if not rows:
        st.info("No jobs yet.")
    for job in rows:
        jobs_view.job_card(job, actor, details=True)


job_list()
