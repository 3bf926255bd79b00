"""How a job looks on a page: status, progress bar, message, cancel button."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from moodlab.core.auth import Actor
from moodlab.core.dbclock import database_time
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, JobStatus
from moodlab.core.text import plural
from moodlab.job_kinds import KINDS
from moodlab.jobs import queue as jobs
from moodlab.ui.session import database, settings
from moodlab.ui.text import plain
from moodlab.ui.times import local

# Log lines shown at once; older ones a page at a time.
LOG_PAGE_LINES = 200

STATUS_ICONS = {
    JobStatus.QUEUED: ":material/schedule:",
    JobStatus.RUNNING: ":material/autorenew:",
    JobStatus.SUCCEEDED: ":material/check_circle:",
    JobStatus.FAILED: ":material/error:",
    JobStatus.CANCELLED: ":material/cancel:",
}


def job_card(
    job: Job,
    actor: Actor,
    *,
    details: bool = False,
    served: dict[str, list[str]] | None = None,
    now: datetime | None = None,
) -> None:
    """A job's card, in a container keyed by the job: a card (and its open log) stays
    with its job when the list above it changes. ``served`` (queue -> live workers) and
    ``now`` (the database's time) are read once per list; read here when not given."""
    status = JobStatus(job.status)
    kind = KINDS.get(job.kind)
    title = kind.title if kind else job.kind
    with st.container(border=True, key=f"job-card-{job.id}"):
        head, button = st.columns([5, 1])
        part_of = f" of run #{job.parent_id}" if job.parent_id else ""  # a run's fold, say
        head.markdown(
            f"{STATUS_ICONS[status]} **#{job.id} {title}**{part_of} · {status.value}{_try(job)}"
        )
        cancellable = not status.finished and not job.cancel_requested
        if cancellable and button.button(
            "Cancel", key=f"cancel-{job.id}", icon=":material/stop_circle:"
        ):
            _cancel(job.id, actor)
        if not status.finished:
            st.progress(job.progress, text=plain(job.message or status.value))
            if status == JobStatus.QUEUED and (
                note := jobs.unserved_note(job, served if served is not None else _served())
            ):
                st.warning(plain(note), icon=":material/hourglass_disabled:")
            if silent := _silent_for(job, now):
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


def _try(job: Job) -> str:
    """ " · try 2 of 3" once a job has been tried again (a retry, or a dead worker)."""
    if job.attempts > 1 or (job.status == JobStatus.QUEUED and job.attempts >= 1):
        shown = job.attempts + (1 if job.status == JobStatus.QUEUED else 0)
        return f" · try {shown} of {job.max_attempts}"
    return ""


def _served() -> dict[str, list[str]]:
    within = timedelta(seconds=settings().job_stale_seconds)
    with database().session() as session:
        return jobs.served_queues(session=session, within=within)


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


def _silent_for(job: Job, now: datetime | None) -> float | None:
    """Seconds since a running job's last heartbeat, when that is longer than three beats;
    on the database's clock (the heartbeat was written with it)."""
    if job.status != JobStatus.RUNNING or job.heartbeat_at is None:
        return None
    if now is None:
        with database().session() as session:
            now = database_time(session)
    silent = (now - job.heartbeat_at).total_seconds()
    return silent if silent > 3 * settings().job_heartbeat_seconds else None


def _details(job: Job) -> None:
    by = job.created_by.name if job.created_by else "command line"
    tries = (
        f"try {job.attempts} of {job.max_attempts}"
        if job.attempts
        else f"up to {job.max_attempts} tries"
    )
    st.caption(
        f"started by {by} · created {local(job.created_at, seconds=True)}"
        f" · queue {job.queue} · {tries} · worker {job.worker or '-'}"
    )
    # Its content is drawn (and the log read) only while it is open.
    log = st.expander("Log and result", key=f"job-log-{job.id}", on_change="rerun")
    if log.open:
        with log:
            _log_page(job)
            if job.result:
                st.caption("The whole result, as `moodlab jobs show` prints it:")
                st.json(job.result, expanded=False)


def _log_page(job: Job) -> None:
    """The newest LOG_PAGE_LINES lines, or older ones page by page."""
    older_key = f"job-log-before-{job.id}"
    before = st.session_state.get(older_key)
    with database().session() as session:
        lines = jobs.log_lines(
            session=session, job_id=job.id, before_id=before, limit=LOG_PAGE_LINES
        )
        old = "" if lines and before else jobs.log_text(session=session, job_id=job.id, limit=0)
    if not lines and not old:
        st.caption(
            "This job wrote no log lines."
            if JobStatus(job.status).finished
            else "No log lines yet."
        )
        return
    st.code(old + "\n".join(line.line for line in lines), language=None)
    back, latest = st.columns(2)
    if len(lines) == LOG_PAGE_LINES and back.button(
        "Older lines", key=f"job-log-older-{job.id}", icon=":material/arrow_upward:"
    ):
        st.session_state[older_key] = lines[0].id
        st.rerun()
    if before and latest.button(
        "Newest lines", key=f"job-log-newest-{job.id}", icon=":material/arrow_downward:"
    ):
        st.session_state.pop(older_key, None)
        st.rerun()


def _cancel(job_id: int, actor: Actor) -> None:
    try:
        with database().session() as session:
            jobs.request_cancel(session=session, actor=actor, job_id=job_id)
        st.toast(f"Cancelling job #{job_id}")
    except MoodlabError as exc:
        st.error(plain(exc))


def worker_status(*, names: bool = True) -> None:
    """A caption counting (and, for the lead, naming with the queues each serves) the
    live workers, or a warning when there is none. Worker ids (host:pid:token) mean
    nothing to an annotator."""
    within = timedelta(seconds=settings().job_stale_seconds)
    with database().session() as session:
        alive = jobs.live_workers(session=session, within=within)
    if alive:
        which = (
            ": "
            + plain(
                "; ".join(
                    f"{w.name} serves {w.queues.replace(',', ', ') or 'no queue'}"
                    + (f" ({w.concurrency} at once)" if w.concurrency > 1 else "")
                    for w in alive
                )
            )
            if names
            else ""
        )
        st.caption(f":material/memory: {plural(len(alive), 'worker')} alive{which}")
    else:
        st.warning(
            "No worker is running, so queued jobs wait. Start one with `moodlab worker`"
            " (`make run` starts one for you).",
            icon=":material/warning:",
        )
