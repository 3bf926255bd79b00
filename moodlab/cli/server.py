"""`moodlab migrate`, `serve`, `worker` and `demo`: running the lab."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

from moodlab.cli.common import Report, Subcommands, command, open_database
from moodlab.core.db import database_from_settings
from moodlab.core.errors import MoodlabError
from moodlab.core.quiet import filtered_stderr


def register(sub: Subcommands) -> None:
    command(sub, "migrate", "bring the database schema up to date (alembic upgrade head)", migrate)

    serve_ = command(
        sub, "serve", "migrate, start the worker and the web app", serve, json_output=False
    )
    serve_.add_argument("--port", type=int, default=8501)
    # This machine only by default: other machines need --host (docs/security.md).
    serve_.add_argument(
        "--host",
        "--address",
        dest="host",
        default=None,
        help="address to listen on (default: MOODLAB_HOST, 127.0.0.1); 0.0.0.0 is every interface",
    )
    serve_.add_argument("--no-worker", action="store_true", help="run the web app only")
    serve_.add_argument(
        "--queues",
        default=None,
        help="the queues its worker serves, comma-separated (default: every queue with"
        " SQLite; `io` with PostgreSQL, where GPU boxes serve `training`)",
    )

    demo_ = command(
        sub,
        "demo",
        "build a labelled demo workspace (photographs, generated data) and serve it",
        demo,
    )
    demo_.add_argument("--dir", type=Path, default=Path("demo"), help="its folder (./demo)")
    demo_.add_argument(
        "--per-mood", type=int, help="pictures per mood, photographs first (default 48)"
    )
    demo_.add_argument(
        "--cnn-updates",
        type=int,
        help="optimizer updates per fold for the plain and deep CNNs (default twice each"
        " one's measured minimum, 48 and 800): fewer build faster and learn less",
    )
    demo_.add_argument("--reset", action="store_true", help="delete the demo workspace first")
    demo_.add_argument("--build-only", action="store_true", help="build it, do not serve")
    demo_.add_argument("--port", type=int, default=8501)

    worker_ = command(sub, "worker", "run queued jobs until stopped", worker, json_output=False)
    worker_.add_argument("--once", action="store_true", help="stop when the queue is empty")
    worker_.add_argument(
        "--queues",
        default=None,
        help="the queues it serves, comma-separated: `training` on a GPU box, `io` on the"
        " web box (default: every queue)",
    )
    worker_.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="how many jobs it runs at once (default 1; several `io` jobs fit one machine)",
    )
    worker_.add_argument(
        "--warm",
        action="store_true",
        help="import TensorFlow while waiting for the first job (a training"
        " or video job then starts without the import)",
    )


def migrate(args: argparse.Namespace) -> Report:
    from moodlab.core import migrations

    database = database_from_settings()
    migrations.upgrade(database)
    return {
        "database": database.engine.url.render_as_string(hide_password=True),
        "revision": migrations.current_revision(database),
    }


def serve(args: argparse.Namespace) -> None:
    from moodlab.cli import serve as serving
    from moodlab.core.config import Settings

    host = args.host or Settings.from_env().host
    raise SystemExit(
        serving.serve(port=args.port, address=host, worker=not args.no_worker, queues=args.queues)
    )


def demo(args: argparse.Namespace) -> Report | None:
    from moodlab import demo as workspaces
    from moodlab.cli import serve as serving

    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    if args.per_mood is not None and args.per_mood < 4:
        raise MoodlabError("--per-mood must be at least 4 (3-fold training needs them)")
    workspaces.check_cnn_updates(args.cnn_updates)
    if args.reset:
        workspaces.remove(args.dir)
    workspace = workspaces.Workspace(args.dir)
    report = None
    if workspace.exists():
        say(f"using the demo workspace in {args.dir} (--reset builds a new one)")
    else:
        with filtered_stderr():  # the build trains here: TensorFlow's notes stay out
            per_mood = workspaces.PER_MOOD if args.per_mood is None else args.per_mood
            report = workspaces.build(
                args.dir, per_mood=per_mood, cnn_updates=args.cnn_updates, say=say
            )
    say(
        f"demo log-ins: {workspaces.LEAD} (lead) and {', '.join(workspaces.ANNOTATORS)}"
        f" (annotators), password {workspaces.PASSWORD}"
    )
    if args.build_only:
        return report or {"dir": str(args.dir), "environment": workspace.environment}
    os.environ.update(workspace.environment)
    raise SystemExit(serving.serve(port=args.port, address="127.0.0.1"))


def worker(args: argparse.Namespace) -> None:
    from moodlab.images.derived import repair_derived
    from moodlab.images.orphans import remove_orphan_uploads, remove_orphans
    from moodlab.job_kinds import KINDS
    from moodlab.jobs.queues import parse_queues
    from moodlab.jobs.worker import JobWorker, StartTask

    settings, database = open_database()
    queues = parse_queues(args.queues) if args.queues is not None else None
    # Image files and upload folders a crash left with no row, and derived image files
    # a power cut may have cut short (docs/architecture.md, "File durability").
    start_up: list[StartTask] = [remove_orphans, remove_orphan_uploads, repair_derived]
    job_worker = JobWorker(
        settings,
        database,
        kinds=KINDS,
        on_start=start_up,
        queues=queues,
        concurrency=args.concurrency,
    )
    job_worker.install_signal_handlers()
    logging.getLogger("moodlab.worker").info(
        "worker %s: waiting for jobs on %s (%d at once)",
        job_worker.name,
        ", ".join(job_worker.queues),
        job_worker.concurrency,
    )
    with filtered_stderr():  # TensorFlow's start-up notes, when a job first imports it
        warming = threading.Thread(target=_warm_up, name="warm-up", daemon=True)
        if args.warm:
            warming.start()
        job_worker.run(once=args.once)
        if args.warm:
            warming.join()  # never exit in the middle of TensorFlow's import


def _warm_up() -> None:
    """Import what training and video jobs need (TensorFlow and Keras: about 3 s of a
    core) before one comes; a job that comes meanwhile waits for the same import."""
    import keras  # noqa: F401

    from moodlab.training import runs  # noqa: F401
