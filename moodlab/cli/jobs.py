"""`moodlab jobs ...`: list, inspect and cancel jobs; prove a worker runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from moodlab.cli.common import Report, Subcommands, actor, command, group, open_database
from moodlab.core.models import JobStatus
from moodlab.job_kinds import KINDS

if TYPE_CHECKING:
    from moodlab.core.models import Job

# Each command imports its services when it runs: a command imports only what it needs.


def register(sub: Subcommands) -> None:
    jobs = group(sub, "jobs", "list, inspect and cancel jobs")
    listing = command(jobs, "list", "recent jobs, newest first", list_jobs)
    listing.add_argument("--status", choices=[s.value for s in JobStatus], action="append")
    listing.add_argument("--kind", choices=sorted(KINDS), action="append")
    command(jobs, "show", "one job with its log", show).add_argument("id", type=int)
    command(jobs, "cancel", "cancel a queued or running job", cancel).add_argument("id", type=int)
    command(jobs, "check-worker", "queue a short job that proves a worker runs", check_worker)
    command(jobs, "prune", "delete old finished jobs and dead workers now (lead)", prune)


def job_row(job: Job) -> Report:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": round(job.progress, 3),
        "message": job.message,
        "part_of": job.parent_id,  # the run a training fold belongs to, say
        "created_at": job.created_at.isoformat(timespec="seconds"),
    }


def list_jobs(args: argparse.Namespace) -> Report:
    from moodlab.jobs import queue

    _, database = open_database()
    statuses = [JobStatus(s) for s in args.status or []]
    with database.session() as session:
        rows = queue.list_jobs(session=session, actor=actor(), statuses=statuses, kinds=args.kind)
        return {"jobs": [job_row(job) for job in rows]}


def show(args: argparse.Namespace) -> Report:
    from moodlab.jobs import queue

    _, database = open_database()
    with database.session() as session:
        job = queue.get_job(session=session, actor=actor(), job_id=args.id)
        return {
            **job_row(job),
            "params": job.params,
            "result": job.result,
            "error": job.error,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "queue": job.queue,  # the queue it waited on; the worker that ran it:
            "worker": job.worker,
            "log": queue.log_text(session=session, job_id=job.id),
        }


def cancel(args: argparse.Namespace) -> Report:
    from moodlab.jobs import queue

    _, database = open_database()
    with database.session() as session:
        return job_row(queue.request_cancel(session=session, actor=actor(), job_id=args.id))


def check_worker(args: argparse.Namespace) -> Report:
    from moodlab.jobs.actions import start_check

    settings, database = open_database()
    with database.session() as session:
        job = start_check(session=session, actor=actor(), settings=settings)
        return job_row(job)


def prune(args: argparse.Namespace) -> Report:
    from moodlab.jobs.retention import prune as prune_old

    settings, database = open_database()
    with database.session() as session:
        pruned = prune_old(session=session, settings=settings, actor=actor())
    return {"jobs": pruned.jobs, "workers": pruned.workers, "days": settings.job_retention_days}
