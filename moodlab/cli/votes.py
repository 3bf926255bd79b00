"""`moodlab votes import|export` and `moodlab agreement`."""

from __future__ import annotations

import argparse
from pathlib import Path

from moodlab.cli.common import Report, Subcommands, actor, command, group, open_database

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
