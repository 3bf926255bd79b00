"""`moodlab votes import|export|order` and `moodlab agreement`."""

from __future__ import annotations

import argparse
from pathlib import Path

from moodlab.cli.common import Report, Subcommands, actor, command, group, open_database, run_here
from moodlab.core.errors import MoodlabError

# Each command imports its services when it runs: a command imports only what it needs.


def register(sub: Subcommands) -> None:
    votes = group(sub, "votes", "import or export votes as CSV")
    importing = command(
        votes, "import", "add votes made elsewhere (columns: image, annotator, mood)", import_votes
    )
    importing.add_argument("file", metavar="FILE.csv")
    importing.add_argument(
        "--include-deactivated",
        action="store_true",
        help="import the votes of deactivated annotators too (refused by default, by line)",
    )
    command(
        votes,
        "export",
        "write every vote and skip as CSV (image sha256, annotator, mood)",
        export_votes,
    ).add_argument("file", metavar="FILE.csv")
    ordering = command(
        votes,
        "order",
        "show or choose the order images reach annotators: each their own, or the model's",
        choose_order,
    )
    ordering.add_argument(
        "kind",
        nargs="?",
        choices=("own", "model"),
        help="own: each annotator's own order; model: the active model's least sure first"
        " (scores the waiting images with it now); none: show the current choice",
    )
    ordering.add_argument(
        "--random-share",
        type=float,
        default=None,
        metavar="F",
        help="with model: the share of places drawn at random (default 0.25)",
    )
    command(
        sub,
        "agreement",
        "tiers, Fleiss' kappa, Krippendorff's alpha, circular alpha, per annotator",
        agreement,
    )


def import_votes(args: argparse.Namespace) -> Report:
    from moodlab.votes import csv_votes

    _, database = open_database()
    with database.session() as session:
        report = csv_votes.import_votes(
            session=session,
            actor=actor(),
            path=Path(args.file),
            include_deactivated=args.include_deactivated,
        )
        return report.as_dict()


def export_votes(args: argparse.Namespace) -> Report:
    from moodlab.votes import csv_votes

    _, database = open_database()
    with database.session() as session:
        rows = csv_votes.export_votes(session=session, actor=actor(), path=Path(args.file))
    return {"exported": rows, "file": str(Path(args.file).resolve())}


def agreement(args: argparse.Namespace) -> Report:
    from moodlab.votes.agreement import agreement_report

    settings, database = open_database()
    with database.session() as session:
        return agreement_report(session=session, actor=actor(), settings=settings)


def choose_order(args: argparse.Namespace) -> Report:
    from moodlab.votes import order

    settings, database = open_database()
    scored: Report = {}
    if args.random_share is not None and args.kind != order.MODEL:
        raise MoodlabError("--random-share goes with `moodlab votes order model`")
    share = order.RANDOM_SHARE if args.random_share is None else args.random_share
    order.check_share(share)
    if args.kind == order.MODEL:
        from moodlab.training.queue_scores import QueueScoreParams, start_queue_scoring

        scored = run_here(start_queue_scoring, params=QueueScoreParams())
    with database.session() as session:
        if args.kind is not None:
            choice = order.choose_order(
                session=session, actor=actor(), kind=args.kind, random_share=share
            )
        else:
            choice = order.current_order(session)
    return {
        "order": choice.kind,
        "random_share": choice.random_share,
        "chosen_by": choice.chosen_by,
        "chosen_at": choice.chosen_at.isoformat() if choice.chosen_at else None,
        **({"scored": scored.get("scored"), "model_id": scored.get("model_id")} if scored else {}),
    }
