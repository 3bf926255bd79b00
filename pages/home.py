"""Home: the lab at a glance, and what to do next."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.models import JobStatus, Role
from moodlab.home import lab_overview
from moodlab.jobs import queue as jobs
from moodlab.ui import access, charts, job_alerts, jobs_view, layout, navigation, session
from moodlab.ui.text import plain

actor = access.require_role(Role.LEAD, Role.ANNOTATOR)
with session.database().session() as db:
    overview = lab_overview(session=db, settings=session.settings(), actor=actor)

st.title("moodlab")
st.caption(f"Hello {actor.name}. The lab's loop: images, votes, datasets, models, videos.")

st.subheader("What to do next")
for step in overview.next_steps:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f":material/arrow_right: {step.text}")
        if step.page:
            st.page_link(
                navigation.page(step.page).path, label="Go", icon=":material/arrow_forward:"
            )
if overview.images_left_by_person:  # the lead's view: who has work left
    st.caption(
        "Images left to answer: "
        + " · ".join(
            f"{plain(name)} {left}" for name, left in overview.images_left_by_person.items()
        )
    )

st.subheader("The lab at a glance")
layout.metric_row(
    [
        ("Images", overview.images),
        ("Votes", overview.votes),
        ("Skips", overview.skips),
        ("My votes", overview.my_votes),
        ("Annotators", overview.annotators),
        ("Dataset snapshots", overview.snapshots),
    ]
)

st.markdown("**Votes per mood** (in circle order)")
if overview.votes:
    rows = [{"mood": m, "votes": n} for m, n in overview.votes_per_mood.items()]
    st.vega_lite_chart(charts.spec(charts.mood_bars, rows, value="votes"), width="stretch")
else:
    st.caption("No votes yet. The eight moods, in circle order:")
    st.caption(" · ".join(f"{m.key} {m.name}" for m in moods.all_moods()))


@st.fragment(run_every="3s")
def running_jobs() -> None:
    with session.database().session() as db:
        active = jobs.list_jobs(
            session=db,
            actor=actor,
            statuses=[JobStatus.RUNNING, JobStatus.QUEUED],
            limit=10,
            runs_only=True,
        )
    jobs_view.worker_status(names=actor.is_lead)
    if not active:
        st.caption("No jobs are running.")
    for job in active:
        jobs_view.job_card(job, actor)
    # A run that ends leaves the cards above: it is listed here (and a toast told its user).
    job_alerts.recent(actor)


st.subheader("Running jobs")
running_jobs()
