"""What every `moodlab` command shares: its parser class, the database, passwords, jobs."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from moodlab.core.errors import MoodlabError

if TYPE_CHECKING:  # imported where used: a command imports only what it needs
    from moodlab.core.auth import Actor
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.core.models import Job
    from moodlab.jobs.context import JobParams

EXIT_ERROR = 1
EXIT_USAGE = 2

Report = dict[str, Any]
Handler = Callable[[argparse.Namespace], Report | None]
Subcommands = Any  # argparse's private _SubParsersAction


class FailedWithReport(MoodlabError):
    """A command's job failed but kept its report (an intake whose every input was
    refused): the report is printed on stdout as on success, the error on stderr."""

    def __init__(self, message: str, report: Report):
        super().__init__(message)
        self.report = report


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, like every error
        self.exit(EXIT_USAGE, f"moodlab: error: {message} (see `{self.prog} --help`)\n")


def command(
    sub: Subcommands, name: str, help: str, handler: Handler, *, json_output: bool = True
) -> argparse.ArgumentParser:
    """Add a command whose ``handler(args)`` returns the report to print."""
    parser = sub.add_parser(name, help=help, description=help)
    if json_output:
        parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(handler=handler)
    return parser


def group(sub: Subcommands, name: str, help: str) -> Subcommands:
    """A command with verbs (`moodlab dataset build`, ...)."""
    parser = sub.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", required=True, parser_class=Parser)


def open_database() -> tuple[Settings, Database]:
    from moodlab.core.config import Settings
    from moodlab.core.db import database_from_settings

    settings = Settings.from_env()
    database = database_from_settings(settings)
    database.check_migrated()
    return settings, database


def actor() -> Actor:
    from moodlab.core.auth import Actor

    return Actor.command_line()


def detachable(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give a job-starting command `--detach`: queue the job, print its id and exit."""
    parser.add_argument(
        "--detach",
        action="store_true",
        help="queue the job for a worker, print its id and queue, and exit (scripts, tests)",
    )
    return parser


def queue_only(start: Callable[..., Job], *, params: JobParams) -> Report:
    """`--detach`: the page's start service, committed; the job waits for a worker."""
    settings, database = open_database()
    with database.session() as session:
        job = start(session=session, actor=actor(), settings=settings, params=params)
        session.flush()
        return {"job_id": job.id, "kind": job.kind, "queue": job.queue, "status": job.status}


def run_here(
    start: Callable[..., Job],
    *,
    params: JobParams,
    hand_off: bool = False,
    detach: bool = False,
    shape: Callable[[Report], Report] = lambda report: report,
) -> Report:
    """The CLI's inline run: the page's start service, then the job in this process;
    its result as ``shape`` makes it the command's report.

    With ``hand_off`` an idle worker on this machine runs it instead while the command
    waits, printing its progress on stderr (moodlab.jobs.handoff); the report, the
    errors and the exit code are the same either way. A failed job that kept a result
    raises FailedWithReport with that report. With ``detach`` the job is only queued
    (``queue_only``).
    """
    if detach:
        return queue_only(start, params=params)
    from moodlab.core.models import JobStatus
    from moodlab.job_kinds import KINDS

    settings, database = open_database()
    if hand_off:
        from moodlab.jobs.handoff import run_on_worker

        done = run_on_worker(
            start,
            settings=settings,
            database=database,
            actor=actor(),
            params=params,
            kinds=KINDS,
            say=lambda line: print(f"moodlab: {line}", file=sys.stderr),
        )
    else:
        from moodlab.jobs.worker import start_here

        done = start_here(
            start, settings=settings, database=database, actor=actor(), params=params, kinds=KINDS
        )
    if done.status == JobStatus.FAILED:
        if done.result is not None:
            raise FailedWithReport(done.error or "the job failed", shape(done.result))
        raise MoodlabError(done.error or "the job failed")
    if done.status == JobStatus.CANCELLED:
        raise MoodlabError(done.message or "the job was cancelled")
    return shape(done.result or {})


def read_password(prompt: str) -> str:
    """From a prompt on a terminal, else the first line of stdin: never an argument."""
    if sys.stdin.isatty():
        password = getpass.getpass(prompt)
        if getpass.getpass("again: ") != password:
            raise MoodlabError("the two passwords differ")
        return password
    line = sys.stdin.readline()
    if not line:
        raise MoodlabError("no password on stdin: pipe one line, or run on a terminal to be asked")
    return line.rstrip("\r\n")
