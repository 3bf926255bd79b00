"""The `moodlab` command: every service, scriptable.

Commands that report take --json and then print one JSON object on stdout.
Bad input gets one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moodlab import auth, jobs
from moodlab.config import Settings, documented_settings
from moodlab.db import Database, database_from_settings
from moodlab.errors import MoodlabError
from moodlab.models import Job, JobStatus, Role, User

EXIT_ERROR = 1
EXIT_USAGE = 2

_COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any] | None]] = {}


def command(name: str):
    def decorator(fn):
        _COMMANDS[name] = fn
        return fn

    return decorator


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, like every other moodlab error
        self.exit(EXIT_USAGE, f"moodlab: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    settings_help = "\n".join(
        f"  {env} (default {default}): {doc}" for env, default, doc in documented_settings()
    )
    parser = _Parser(
        prog="moodlab",
        description="moodlab: image-mood research lab (crawl, annotate, train, make videos).",
        epilog=f"settings, from the environment:\n{settings_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name: str, help: str, *, json_output: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        if json_output:
            p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        return p

    add("migrate", "bring the database schema up to date (alembic upgrade head)")
    serve = add("serve", "migrate, start the worker and the web app", json_output=False)
    serve.add_argument("--port", type=int, default=8501)
    # All interfaces by default: annotators open the app from their own machines.
    serve.add_argument(
        "--address",
        default="0.0.0.0",  # noqa: S104
        help="interface to listen on (default: all)",
    )
    serve.add_argument("--no-worker", action="store_true", help="run the web app only")
    demo = add("demo", "build a labelled demo workspace (generated data) and serve it")
    demo.add_argument("--dir", type=Path, default=Path("demo"), help="its folder (./demo)")
    demo.add_argument("--per-mood", type=int, default=24, help="generated pictures per mood (24)")
    demo.add_argument("--reset", action="store_true", help="delete the demo workspace first")
    demo.add_argument("--build-only", action="store_true", help="build it, do not serve")
    demo.add_argument("--port", type=int, default=8501)
    worker = add("worker", "run queued jobs until stopped", json_output=False)
    worker.add_argument("--once", action="store_true", help="stop when the queue is empty")

    crawl = add("crawl", "crawl web pages for candidate images (as a job, run here)")
    crawl.add_argument("urls", nargs="+", metavar="URL", help="seed pages")
    crawl.add_argument("--max-pages", type=int, default=100, help="pages to fetch at most (100)")
    crawl.add_argument("--max-images", type=int, default=500, help="images to store at most (500)")
    crawl.add_argument("--depth", type=int, default=2, help="links to follow from a seed (2)")
    crawl.add_argument(
        "--delay",
        type=float,
        help="seconds between requests to one host (MOODLAB_CRAWL_DELAY_SECONDS)",
    )
    crawl.add_argument(
        "--allow-private",
        action="store_true",
        help="let the seed hosts be private or loopback addresses (a lab-internal site)",
    )
    openverse = add(
        "openverse", "source images by keyword from Openverse (needs MOODLAB_OPENVERSE_URL)"
    )
    openverse.add_argument("query", metavar="QUERY")
    openverse.add_argument(
        "--max-images", type=int, default=50, help="images to store at most (50)"
    )
    openverse.add_argument("--license", help="licence codes, comma-separated, e.g. cc0,by")
    openverse.add_argument(
        "--allow-private", action="store_true", help="let the API host be a private address"
    )
    import_ = add("import", "import the images of a folder or a .zip (as a job, run here)")
    import_.add_argument("path", metavar="PATH")
    images = sub.add_parser("images", help="the candidate pool").add_subparsers(
        dest="images_command", required=True, parser_class=_Parser
    )
    images_list = images.add_parser("list", help="every image with its source")
    images_list.add_argument("--json", action="store_true")

    votes = sub.add_parser("votes", help="import or export votes as CSV").add_subparsers(
        dest="votes_command", required=True, parser_class=_Parser
    )
    for verb, doc in (
        ("import", "add votes made elsewhere (columns: image, annotator, mood)"),
        ("export", "write every vote and skip as CSV (image sha256, annotator, mood)"),
    ):
        p = votes.add_parser(verb, help=doc)
        p.add_argument("file", metavar="FILE.csv")
        p.add_argument("--json", action="store_true")
    add("agreement", "tiers, Fleiss' kappa, Krippendorff's alpha, circular alpha, per annotator")

    dataset = sub.add_parser(
        "dataset", help="build, list and export frozen datasets"
    ).add_subparsers(dest="dataset_command", required=True, parser_class=_Parser)
    build = dataset.add_parser("build", help="freeze a snapshot: train 3-of-4, test 2-of-4")
    build.add_argument("--per-mood-cap", type=int, help="train images per mood (default: balance)")
    build.add_argument("--test-per-mood", type=int, help="test images per mood (default: all)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--json", action="store_true")
    dataset_list = dataset.add_parser("list", help="every snapshot")
    dataset_list.add_argument("--json", action="store_true")
    dataset_export = dataset.add_parser("export", help="a zip in ImageFolder layout")
    dataset_export.add_argument("id", type=int)
    dataset_export.add_argument("out", metavar="OUT.zip")
    dataset_export.add_argument("--json", action="store_true")
    dataset_disputed = dataset.add_parser("disputed", help="images with a 2-2 tie")
    dataset_disputed.add_argument("--json", action="store_true")
    tie = dataset.add_parser("break-tie", help="decide a tie: one of the tied moods, or leave-out")
    tie.add_argument("image_id", type=int)
    tie.add_argument("mood", help="a tied mood, or leave-out")
    tie.add_argument("--json", action="store_true")

    train = add(
        "train", "cross-validate and train a model on a dataset snapshot (as a job, run here)"
    )
    train.add_argument("--dataset", type=int, required=True, metavar="ID")
    train.add_argument("--arch", default="deep", choices=["deep", "plain", "transfer"])
    train.add_argument("--folds", type=int, default=10)
    train.add_argument("--epochs", type=int, default=60)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--image-size", type=int, default=128)
    train.add_argument("--seed", type=int, default=0)
    models = sub.add_parser("models", help="the model registry").add_subparsers(
        dest="models_command", required=True, parser_class=_Parser
    )
    models_list = models.add_parser("list", help="every trained model")
    models_list.add_argument("--json", action="store_true")
    models_evaluate = models.add_parser("evaluate", help="a model on a snapshot's test set")
    models_evaluate.add_argument("id", type=int)
    models_evaluate.add_argument("--dataset", type=int, help="snapshot id (default: its own)")
    models_evaluate.add_argument("--json", action="store_true")
    models_activate = models.add_parser("activate", help="use this model for videos")
    models_activate.add_argument("id", type=int)
    models_activate.add_argument("--json", action="store_true")

    music = sub.add_parser("music", help="the track library").add_subparsers(
        dest="music_command", required=True, parser_class=_Parser
    )
    music_list = music.add_parser("list", help="every track with its mood, status and votes")
    music_list.add_argument("--json", action="store_true")
    music_import = music.add_parser("import", help="add a licensed track as a candidate")
    music_import.add_argument("file", metavar="FILE", help="mp3, m4a, ogg, opus, wav or flac")
    music_import.add_argument("--mood", help="the mood it is meant for")
    music_import.add_argument("--title", help="default: the file name")
    music_import.add_argument("--license", help="e.g. CC-BY-4.0")
    music_import.add_argument("--attribution", help="who made it, and where it came from")
    music_import.add_argument("--json", action="store_true")
    music_generate = music.add_parser(
        "generate", help="synthesise the missing default tracks (as a job, run here)"
    )
    music_generate.add_argument("--seed", type=int, help="library seed (MOODLAB_MUSIC_SEED)")
    music_generate.add_argument("--json", action="store_true")
    video = sub.add_parser("video", help="videos with music that fits their mood").add_subparsers(
        dest="video_command", required=True, parser_class=_Parser
    )
    make = video.add_parser(
        "make", help="one video, or photos for a slideshow, with matching music (a job, run here)"
    )
    make.add_argument("inputs", nargs="+", metavar="INPUT", help="a video file, or image files")
    make.add_argument("--out", metavar="OUT.mp4", help="where to write it (default: data/videos)")
    make.add_argument("--model", type=int, metavar="ID", help="model id (default: the active one)")
    make.add_argument(
        "--sample-fps", type=float, help="frames a second to predict (MOODLAB_VIDEO_SAMPLE_FPS)"
    )
    make.add_argument(
        "--segments", action="store_true", help="a mood and track per scene (cuts, >= ~8 s)"
    )
    make.add_argument("--seed", type=int, default=0, help="breaks ties between tracks (0)")
    make.add_argument(
        "--keep-audio", action="store_true", help="keep the original sound, ducked under the music"
    )
    make.add_argument("--json", action="store_true")
    video_list = video.add_parser("list", help="generated videos, newest first")
    video_list.add_argument("--json", action="store_true")

    users = sub.add_parser("users", help="manage accounts").add_subparsers(
        dest="users_command", required=True, parser_class=_Parser
    )
    users_add = users.add_parser(
        "add", help="add a user; the password is read from stdin or a prompt"
    )
    users_add.add_argument("name")
    users_add.add_argument("--role", required=True, choices=[r.value for r in Role])
    users_add.add_argument("--json", action="store_true")
    users_list = users.add_parser("list", help="list users")
    users_list.add_argument("--json", action="store_true")
    users_pw = users.add_parser(
        "passwd", help="set a user's password (read from stdin or a prompt)"
    )
    users_pw.add_argument("name")
    users_pw.add_argument("--json", action="store_true")
    for verb in ("deactivate", "activate"):
        p = users.add_parser(verb, help=f"{verb} a user")
        p.add_argument("name")
        p.add_argument("--json", action="store_true")

    jobs_parser = sub.add_parser("jobs", help="list, inspect and cancel jobs").add_subparsers(
        dest="jobs_command", required=True, parser_class=_Parser
    )
    jobs_list = jobs_parser.add_parser("list", help="recent jobs, newest first")
    jobs_list.add_argument("--status", choices=[s.value for s in JobStatus], action="append")
    jobs_list.add_argument("--json", action="store_true")
    for verb, doc in (
        ("show", "one job with its log"),
        ("cancel", "cancel a queued or running job"),
    ):
        p = jobs_parser.add_parser(verb, help=doc)
        p.add_argument("id", type=int)
        p.add_argument("--json", action="store_true")
    check = jobs_parser.add_parser(
        "check-worker", help="queue a short job that proves a worker runs"
    )
    check.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("moodlab").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    name = " ".join(
        part for part in (args.command, getattr(args, f"{args.command}_command", None)) if part
    )
    try:
        report = _COMMANDS[name](args)
    except MoodlabError as exc:
        print(f"moodlab: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("moodlab: interrupted", file=sys.stderr)
        return 130
    if report is not None:
        _print(report, as_json=getattr(args, "json", False))
    return 0


def _print(report: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, default=str))
        return
    for key, value in report.items():
        if isinstance(value, list):
            print(f"{key}:")
            for row in value:
                print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
        else:
            print(f"{key}: {value}")


def _database() -> tuple[Settings, Database]:
    settings = Settings.from_env()
    database = database_from_settings(settings)
    database.check_migrated()
    return settings, database


def _read_password(prompt: str) -> str:
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


# --- commands -----------------------------------------------------------------------------


@command("migrate")
def _migrate(args) -> dict:
    from moodlab import migrate

    database = database_from_settings()
    migrate.upgrade(database)
    return {
        "database": database.engine.url.render_as_string(hide_password=True),
        "revision": migrate.current_revision(database),
    }


@command("serve")
def _serve(args) -> None:
    from moodlab import serve

    raise SystemExit(serve.serve(port=args.port, address=args.address, worker=not args.no_worker))


@command("demo")
def _demo(args) -> dict | None:
    import os

    from moodlab import demo, serve

    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    if args.reset:
        demo.remove(args.dir)
    workspace = demo.Workspace(args.dir)
    if args.per_mood < 4:
        raise MoodlabError("--per-mood must be at least 4 (3-fold training needs them)")
    report = None
    if workspace.exists():
        say(f"using the demo workspace in {args.dir} (--reset builds a new one)")
    else:
        report = demo.build(args.dir, per_mood=args.per_mood, say=say)
    say(f"demo log-ins: {demo.LEAD} (lead) and {', '.join(demo.ANNOTATORS)} (annotators),"
        f" password {demo.PASSWORD}")  # fmt: skip
    if args.build_only:
        return report or {"dir": str(args.dir), "environment": workspace.environment}
    os.environ.update(workspace.environment)
    raise SystemExit(serve.serve(port=args.port, address="127.0.0.1"))


@command("worker")
def _worker(args) -> None:
    from moodlab.worker import JobWorker

    settings, database = _database()
    worker = JobWorker(settings, database)
    worker.install_signal_handlers()
    logging.getLogger("moodlab.worker").info("worker %s: waiting for jobs", worker.name)
    worker.run(once=args.once)


def _user_row(user: User) -> dict:
    return {"id": user.id, "name": user.name, "role": user.role, "active": user.active}


@command("users add")
def _users_add(args) -> dict:
    _, database = _database()
    password = _read_password(f"password for {args.name}: ")
    with database.session() as session:
        user = auth.create_user(
            session=session,
            actor=auth.Actor.command_line(),
            name=args.name,
            role=Role(args.role),
            password=password,
        )
        return _user_row(user)


@command("users list")
def _users_list(args) -> dict:
    _, database = _database()
    with database.session() as session:
        users = auth.list_users(session=session, actor=auth.Actor.command_line())
        return {"users": [_user_row(u) for u in users]}


@command("users passwd")
def _users_passwd(args) -> dict:
    _, database = _database()
    password = _read_password(f"new password for {args.name}: ")
    with database.session() as session:
        auth.set_password(
            session=session, actor=auth.Actor.command_line(), name=args.name, password=password
        )
        return _user_row(auth.get_user(session=session, name=args.name))


def _set_active(args, active: bool) -> dict:
    _, database = _database()
    with database.session() as session:
        user = auth.set_active(
            session=session, actor=auth.Actor.command_line(), name=args.name, active=active
        )
        return _user_row(user)


command("users activate")(lambda args: _set_active(args, True))
command("users deactivate")(lambda args: _set_active(args, False))


def job_row(job: Job) -> dict:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": round(job.progress, 3),
        "message": job.message,
        "created_at": job.created_at.isoformat(timespec="seconds"),
    }


@command("jobs list")
def _jobs_list(args) -> dict:
    _, database = _database()
    statuses = [JobStatus(s) for s in args.status or []]
    with database.session() as session:
        rows = jobs.list_jobs(session=session, actor=auth.Actor.command_line(), statuses=statuses)
        return {"jobs": [job_row(job) for job in rows]}


@command("jobs show")
def _jobs_show(args) -> dict:
    _, database = _database()
    with database.session() as session:
        job = jobs.get_job(session=session, job_id=args.id)
        return {
            **job_row(job),
            "params": job.params,
            "result": job.result,
            "error": job.error,
            "attempts": job.attempts,
            "worker": job.worker,
            "log": job.log_tail,
        }


@command("jobs cancel")
def _jobs_cancel(args) -> dict:
    _, database = _database()
    with database.session() as session:
        return job_row(
            jobs.request_cancel(session=session, actor=auth.Actor.command_line(), job_id=args.id)
        )


@command("jobs check-worker")
def _jobs_check_worker(args) -> dict:
    _, database = _database()
    with database.session() as session:
        job = jobs.enqueue(
            session=session, actor=auth.Actor.command_line(), kind_name="worker_check", params={}
        )
        return job_row(job)


def _run_job(kind_name: str, params: dict) -> dict:
    from moodlab.worker import run_inline

    settings, database = _database()
    job = run_inline(settings, database, auth.Actor.command_line(), kind_name, params)
    if job.status == JobStatus.FAILED:
        raise MoodlabError(job.error or "the job failed")
    return job.result or {}


def _intake_summary(report: dict) -> dict:
    keys = ("stored", "duplicates", "rejected", "job_id")
    return {key: report[key] for key in keys} | {
        key: value for key, value in report.items() if key not in keys
    }


@command("crawl")
def _crawl(args) -> dict:
    params = {
        "seeds": args.urls, "max_pages": args.max_pages, "max_images": args.max_images,
        "depth": args.depth, "allow_private": args.allow_private,
    }  # fmt: skip
    if args.delay is not None:
        params["delay"] = args.delay
    return _intake_summary(_run_job("crawl", params))


@command("import")
def _import(args) -> dict:
    from pathlib import Path

    path = Path(args.path).expanduser().resolve()
    if not path.exists():
        raise MoodlabError(f"{args.path} does not exist")
    return _intake_summary(_run_job("import", {"path": str(path)}))


@command("images list")
def _images_list(args) -> dict:
    from sqlalchemy import select

    from moodlab.models import Image

    _, database = _database()
    with database.session() as session:
        rows = session.scalars(select(Image).order_by(Image.id)).all()
        return {
            "images": [
                {"id": i.id, "sha256": i.sha256, "source_url": i.source_url, "width": i.width,
                 "height": i.height, "page_url": i.page_url, "license": i.license}
                for i in rows
            ]
        }  # fmt: skip


@command("openverse")
def _openverse(args) -> dict:
    from moodlab.openverse import api_url, check_query

    api_url(Settings.from_env())  # off unless configured: say so before queueing anything
    params = {"query": check_query(args.query), "max_images": args.max_images,
              "licenses": args.license, "allow_private": args.allow_private}  # fmt: skip
    return _intake_summary(_run_job("openverse", params))


@command("votes import")
def _votes_import(args) -> dict:
    from pathlib import Path

    from moodlab import annotation

    _, database = _database()
    with database.session() as session:
        report = annotation.import_votes(
            session=session, actor=auth.Actor.command_line(), path=Path(args.file)
        )
        return report.as_dict()


@command("votes export")
def _votes_export(args) -> dict:
    from pathlib import Path

    from moodlab import annotation

    _, database = _database()
    with database.session() as session:
        rows = annotation.export_votes(
            session=session, actor=auth.Actor.command_line(), path=Path(args.file)
        )
    return {"exported": rows, "file": str(Path(args.file).resolve())}


@command("agreement")
def _agreement(args) -> dict:
    from moodlab.agreement import agreement_report

    settings, database = _database()
    with database.session() as session:
        return agreement_report(session=session, actor=auth.Actor.command_line(), settings=settings)


@command("dataset build")
def _dataset_build(args) -> dict:
    from moodlab import datasets

    settings, database = _database()
    rules = datasets.Rules(
        per_mood_cap=args.per_mood_cap, test_per_mood=args.test_per_mood, seed=args.seed
    )
    with database.session() as session:
        snapshot = datasets.freeze(
            session=session, actor=auth.Actor.command_line(), settings=settings, rules=rules
        )
        return datasets.snapshot_summary(snapshot)


@command("dataset list")
def _dataset_list(args) -> dict:
    from moodlab import datasets

    _, database = _database()
    with database.session() as session:
        snapshots = datasets.list_snapshots(session=session, actor=auth.Actor.command_line())
        return {"snapshots": [datasets.snapshot_summary(s) for s in snapshots]}


@command("dataset export")
def _dataset_export(args) -> dict:
    from pathlib import Path

    from moodlab import datasets

    settings, database = _database()
    with database.session() as session:
        return datasets.export(
            session=session, actor=auth.Actor.command_line(), settings=settings,
            snapshot_id=args.id, out=Path(args.out),
        )  # fmt: skip


@command("dataset disputed")
def _dataset_disputed(args) -> dict:
    from dataclasses import asdict

    from moodlab import datasets

    settings, database = _database()
    with database.session() as session:
        found = datasets.disputed_images(
            session=session, actor=auth.Actor.command_line(), settings=settings
        )
        return {"disputed": [asdict(d) for d in found]}


@command("dataset break-tie")
def _dataset_break_tie(args) -> dict:
    from moodlab import datasets

    settings, database = _database()
    mood = None if args.mood.strip().lower() in ("leave-out", "leave out", "none") else args.mood
    with database.session() as session:
        decision = datasets.break_tie(
            session=session, actor=auth.Actor.command_line(), settings=settings,
            image_id=args.image_id, mood=mood,
        )  # fmt: skip
        return {"image_id": decision.image_id, "mood": decision.mood or "left out"}


@command("train")
def _train(args) -> dict:
    from moodlab.training.run import TrainParams

    params = TrainParams(
        snapshot_id=args.dataset, arch=args.arch, folds=args.folds, epochs=args.epochs,
        batch_size=args.batch_size, image_size=args.image_size, seed=args.seed,
    )  # fmt: skip
    params.check()
    report = _run_job("train", params.__dict__)
    report.pop("folds", None)
    return report


def _model_row(model) -> dict:
    return {
        "id": model.id, "arch": model.arch, "path": model.path, "active": model.active,
        "cv_mean": model.cv_mean, "test_accuracy": model.test_accuracy,
        "snapshot_id": model.snapshot_id, "precision": model.precision,
    }  # fmt: skip


@command("models list")
def _models_list(args) -> dict:
    from moodlab.training.run import list_models

    _, database = _database()
    with database.session() as session:
        return {"models": [_model_row(m) for m in list_models(session=session)]}


@command("models activate")
def _models_activate(args) -> dict:
    from moodlab.training.run import activate

    _, database = _database()
    with database.session() as session:
        return _model_row(
            activate(session=session, actor=auth.Actor.command_line(), model_id=args.id)
        )


@command("models evaluate")
def _models_evaluate(args) -> dict:
    from moodlab.training.run import evaluate_model

    settings, database = _database()
    with database.session() as session:
        return evaluate_model(
            session=session, actor=auth.Actor.command_line(), settings=settings,
            database=database, model_id=args.id, snapshot_id=args.dataset,
        )  # fmt: skip


@command("music list")
def _music_list(args) -> dict:
    from moodlab.music import library

    settings, database = _database()
    actor = auth.Actor.command_line()
    with database.session() as session:
        votes = library.visible_votes(session=session, actor=actor)
        return {
            "tracks": [
                library.track_row(t, settings, votes.get(t.id))
                for t in library.list_tracks(session=session)
            ]
        }


@command("music import")
def _music_import(args) -> dict:
    from pathlib import Path

    from moodlab.music import library

    source = Path(args.file).expanduser()
    if not source.is_file():
        raise MoodlabError(f"{args.file} does not exist or is not a file")
    settings, database = _database()
    with database.session() as session:
        track = library.import_track(
            session=session, actor=auth.Actor.command_line(), settings=settings, source=source,
            mood=args.mood, title=args.title, license=args.license, attribution=args.attribution,
        )  # fmt: skip
        return library.track_row(track, settings)


@command("music generate")
def _music_generate(args) -> dict:
    import time

    started = time.monotonic()
    report = _run_job("music_generate", {} if args.seed is None else {"seed": args.seed})
    return report | {"seconds": round(time.monotonic() - started, 1)}


@command("video make")
def _video_make(args) -> dict:
    from pathlib import Path

    from moodlab.video.service import VideoParams, check_inputs

    params = VideoParams(
        inputs=[str(Path(p).expanduser().resolve()) for p in args.inputs],
        names={str(Path(p).expanduser().resolve()): p for p in args.inputs},
        out=args.out, model_id=args.model, sample_fps=args.sample_fps, segments=args.segments,
        seed=args.seed, keep_audio=args.keep_audio,
    )  # fmt: skip
    check_inputs(params, Settings.from_env())  # a missing or empty file is refused before a job
    report = _run_job("video", params.__dict__)
    keys = ("output", "mood", "confidence", "tracks", "timeline", "seconds", "warnings", "video_id")
    if not args.json:  # a person reads the outcome; the timeline is for scripts and the page
        return {key: report[key] for key in keys if key != "timeline"}
    return {key: report[key] for key in keys} | {k: v for k, v in report.items() if k not in keys}


@command("video list")
def _video_list(args) -> dict:
    from moodlab.video.service import list_videos, video_row

    _, database = _database()
    with database.session() as session:
        videos = list_videos(session=session, actor=auth.Actor.command_line())
        return {"videos": [video_row(v) for v in videos]}
