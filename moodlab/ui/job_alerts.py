"""A user's own jobs, when they end: a toast on whatever page they are, and Home's lines.

A crawl, an import, a training run or a video takes minutes to hours, and the user
goes on working on other pages meanwhile. app.py runs ``watch`` on every page of a
logged-in user: every CHECK_EVERY it asks which of the jobs they started have ended
since the last look (moodlab.jobs.queue.ended_jobs_of) and shows a toast for each.
Home lists the jobs that ended in the last day (``recent``), so one that finished
while no page was open is not missed either.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from moodlab.core.auth import Actor
from moodlab.core.models import Job, JobStatus
from moodlab.core.timeutil import utcnow
from moodlab.job_kinds import KINDS
from moodlab.jobs.queue import ended_jobs_of
from moodlab.ui import session
from moodlab.ui.jobs_view import STATUS_ICONS, result_line
from moodlab.ui.text import plain
from moodlab.ui.times import local

SINCE = "job_alerts_since"  # the end time of the last job this tab told about
# How often each page asks: a few queries every few seconds, and a job's end is known
# within this.
CHECK_EVERY = timedelta(seconds=5)
RECENT = timedelta(days=1)  # what Home lists
RECENT_SHOWN = 5


def ended_line(job: Job) -> str:
    """'#12 Training run succeeded: 3 folds, mean 0.63' (plain text, not Markdown)."""
    kind = KINDS.get(job.kind)
    title = kind.title if kind else job.kind
    detail = (job.error or job.message) if job.status == JobStatus.FAILED else result_line(job)
    return f"#{job.id} {title} {job.status}" + (f": {detail}" if detail else "")


@st.fragment(run_every=CHECK_EVERY)
def watch(actor: Actor) -> None:
    since = st.session_state.setdefault(SINCE, utcnow())  # a new tab starts from now
    with session.database().session() as db:
        ended = ended_jobs_of(session=db, actor=actor, since=since)
    for job in ended:
        st.toast(plain(ended_line(job)), icon=STATUS_ICONS[JobStatus(job.status)], duration="long")
    if ended and ended[-1].finished_at is not None:
        st.session_state[SINCE] = ended[-1].finished_at


def recent(actor: Actor) -> None:
    """Home's lines: the user's own jobs that ended in the last day, newest first."""
    with session.database().session() as db:
        ended = ended_jobs_of(session=db, actor=actor, since=utcnow() - RECENT, limit=200)
    for job in reversed(ended[-RECENT_SHOWN:]):
        when = local(job.finished_at) if job.finished_at else ""
        st.caption(
            f"{STATUS_ICONS[JobStatus(job.status)]} {when} · {plain(ended_line(job))}",
        )
