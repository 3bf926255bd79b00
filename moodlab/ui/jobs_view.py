"""How a job looks on a page: status, progress bar, message, cancel button."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from moodlab.core.auth import Actor
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, JobStatus
from moodlab.core.timeutil import utcnow
from moodlab.jobs import queue as jobs
from moodlab.jobs.kinds import KINDS
from moodlab.ui.session import database, settings
from moodlab.ui.text import plain

STATUS_ICONS = {
    JobStatus.QUEUED: ":material/schedule:",
    JobStatus.RUNNING: ":material/autorenew:",
    JobStatus.SUCCEEDED: ":material/check_circle:",
    JobStatus.FAILED: ":material/error:",
    JobStatus.CANCELLED: ":material/cancel:",
}


def job_card(job: Job, actor: Actor, *, details: bool = False) -> None:
    status = JobStatus(job.status)
    kind = KINDS.get(job.kind)
    title = kind.title if kind else job.kind
    with st.container(border=True):
        head, button = st.columns([5, 1])
        head.markdown(f"{STATUS_ICONS[status]} **#{job.id} {title}** · {status.value}")
        cancellable = not status.finished and not job.cancel_requested
        if cancellable and button.button(
            "Cancel", key=f"cancel-{job.id}", icon=":material/stop_circle:"
        ):
            _cancel(job.id, actor)
        if not status.finished:
            st.progress(job.progress, text=plain(job.message or status.value))
            if silent := _silent_for(job):
                st.warning(
                    f"No heartbeat from worker {job.worker} for {silent:.0f} s: it may have"
                    " stopped. A live worker re-queues the job after"
                    f" {settings().job_stale_seconds:.0f} s without one.",
                    icon=":material/heart_broken:",
                )
        elif status == JobStatus.FAILED:
            st.error(plain(job.error or job.message))
        else:
            st.caption(plain(job.message or ""))
        if details:
            _details(job)


def _silent_for(job: Job) -> float | None:
    """Seconds since a running job's last heartbeat, when that is longer than three beats."""
    if job.status != JobStatus.RUNNING or job.heartbeat_at is None:
        return None
    silent = (utcnow() - job.heartbeat_at).total_seconds()
    return silent if silent > 3 * settings().job_heartbeat_seconds else None


def _details(job: Job) -> None:
    by = job.created_by.name if job.created_by else "command line"
    st.caption(
        f"started by {by} · created {job.created_at:%Y-%m-%d %H:%M:%S} UTC"
        f" · attempt {job.attempts} · worker {job.worker or '-'}"
    )
    with st.expander("Log and result"):
        st.code(job.log_tail or "(no log yet)", language=None)
        if job.result:
            st.json(job.result, expanded=False)


def _cancel(job_id: int, actor: Actor) -> None:
    try:
        with database().session() as session:
            jobs.request_cancel(session=session, actor=actor, job_id=job_id)
        st.toast(f"Cancelling job #{job_id}")
    except MoodlabError as exc:
        st.error(plain(exc))


def worker_status() -> None:
    """A caption naming the live workers, or a warning when there is none."""
    within = timedelta(seconds=settings().job_stale_seconds)
    with database().session() as session:
        alive = jobs.live_workers(session=session, within=within)
    if alive:
        names = ", ".join(worker.name for worker in alive)
        st.caption(f":material/memory: {len(alive)} worker(s) alive: {plain(names)}")
    else:
        st.warning(
            "No worker is running, so queued jobs wait. Start one with `moodlab worker`"
            " (`make run` starts one for you).",
            icon=":material/warning:",
        )
