"""How a job looks on a page: status, progress bar, message, cancel button."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from moodlab.core.auth import Actor
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, JobStatus
from moodlab.core.text import plural
from moodlab.core.timeutil import utcnow
from moodlab.job_kinds import KINDS
from moodlab.jobs import queue as jobs
from moodlab.ui.session import database, settings
from moodlab.ui.text import plain
from moodlab.ui.times import local

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
        part_of = f" of run #{job.parent_id}" if job.parent_id else ""  # a run's fold, say
        head.markdown(f"{STATUS_ICONS[status]} **#{job.id} {title}**{part_of} · {status.value}")
        cancellable = not status.finished and not job.cancel_requested
        if cancellable and button.button(
            "Cancel", key=f"cancel-{job.id}", icon=":material/stop_circle:"
        ):
            _cancel(job.id, actor)
        if not status.finished:
            st.progress(job.progress, text=plain(job.message or status.value))
            if silent := _silent_for(job):
                st.warning(
                    f"No heartbeat from {_worker_name(job, actor)} for {silent:.0f} s: it may have"
                    " stopped. A live worker re-queues the job after"
                    f" {settings().job_stale_seconds:.0f} s without one.",
                    icon=":material/heart_broken:",
                )
        elif status == JobStatus.FAILED:
            st.error(plain(job.error or job.message))
        else:
            st.caption(plain(result_line(job)))
        if details:
            _details(job)


def result_line(job: Job) -> str:
    """A finished job in one line: its kind's result summary, else its message."""
    kind = KINDS.get(job.kind)
    summary = kind.result.from_json(job.result).summary() if kind and job.result else ""
    if job.status == JobStatus.SUCCEEDED:
        return summary or (job.message if job.message not in ("", "done") else "succeeded")
    return summary or job.message or ""


def _worker_name(job: Job, actor: Actor) -> str:
    """The worker's id for the lead; annotators have no use for host:pid:token."""
    return f"worker {job.worker}" if actor.is_lead else "its worker"


def _silent_for(job: Job) -> float | None:
    """Seconds since a running job's last heartbeat, when that is longer than three beats."""
    if job.status != JobStatus.RUNNING or job.heartbeat_at is None:
        return None
    silent = (utcnow() - job.heartbeat_at).total_seconds()
    return silent if silent > 3 * settings().job_heartbeat_seconds else None


def _details(job: Job) -> None:
    by = job.created_by.name if job.created_by else "command line"
    st.caption(
        f"started by {by} · created {local(job.created_at, seconds=True)}"
        f" · attempt {job.attempts} · worker {job.worker or '-'}"
    )
    with st.expander("Log and result"):
        if job.log_tail:
            st.code(job.log_tail, language=None)
        elif JobStatus(job.status).finished:
            st.caption("This job wrote no log lines.")
        else:
            st.caption("No log lines yet.")
        if job.result:
            st.caption("The whole result, as `moodlab jobs show` prints it:")
            st.json(job.result, expanded=False)


def _cancel(job_id: int, actor: Actor) -> None:
    try:
        with database().session() as session:
            jobs.request_cancel(session=session, actor=actor, job_id=job_id)
        st.toast(f"Cancelling job #{job_id}")
    except MoodlabError as exc:
        st.error(plain(exc))


def worker_status(*, names: bool = True) -> None:
    """A caption counting (and, for the lead, naming) the live workers, or a warning when
    there is none. Worker ids (host:pid:token) mean nothing to an annotator."""
    within = timedelta(seconds=settings().job_stale_seconds)
    with database().session() as session:
        alive = jobs.live_workers(session=session, within=within)
    if alive:
        which = ": " + plain(", ".join(worker.name for worker in alive)) if names else ""
        st.caption(f":material/memory: {plural(len(alive), 'worker')} alive{which}")
    else:
        st.warning(
            "No worker is running, so queued jobs wait. Start one with `moodlab worker`"
            " (`make run` starts one for you).",
            icon=":material/warning:",
        )
