"""`moodlab votes` (CSV, queue order, an annotator's own answers), `moodlab agreement`,
`moodlab guidelines`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from moodlab.cli.common import Report, Subcommands, actor, command, group, open_database, run_here
from moodlab.core.errors import MoodlabError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from moodlab.core.auth import Actor

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
    listing = command(
        votes, "mine", "an annotator's own answers, newest first (as on My answers)", mine
    )
    listing.add_argument("--annotator", required=True, metavar="NAME", help="whose answers")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    changing = command(
        votes, "change", "change an annotator's answer on an image (recorded)", change
    )
    changing.add_argument("image", type=int, metavar="IMAGE_ID")
    changing.add_argument("mood", metavar="MOOD", help="a mood name, or skip")
    changing.add_argument("--annotator", required=True, metavar="NAME")
    withdrawing = command(
        votes, "withdraw", "withdraw an annotator's answer on an image (recorded)", withdraw
    )
    withdrawing.add_argument("image", type=int, metavar="IMAGE_ID")
    withdrawing.add_argument("--annotator", required=True, metavar="NAME")
    undoing = command(votes, "undo", "undo an annotator's newest answer step", undo)
    undoing.add_argument("--annotator", required=True, metavar="NAME")
    undoing.add_argument("--image", type=int, metavar="IMAGE_ID", help="the newest on this image")
    guides = group(sub, "guidelines", "the annotation guidelines: show, publish a version")
    command(guides, "show", "the current guidelines and every version's votes", show_guidelines)
    publishing = command(
        guides,
        "publish",
        "publish a new version from a TOML file shaped like moodlab/votes/default_guidelines.toml",
        publish_guidelines,
    )
    publishing.add_argument("file", metavar="FILE.toml")
    publishing.add_argument("--note", default="", help="what changed (shown on Agreement)")
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
    from moodlab.votes import guidelines
    from moodlab.votes.agreement import agreement_report

    settings, database = open_database()
    with database.session() as session:
        report = agreement_report(session=session, actor=actor(), settings=settings)
        # The cached report is shared and never mutated: the versions go on a copy.
        versions = [use.as_dict() for use in guidelines.versions_in_use(session)]
        return {**report, "guidelines": versions}


def _as_annotator(session: Session, name: str) -> Actor:
    """The named user as the actor: the command line acts for them (their own answers)."""
    from moodlab.core.auth import Actor, get_user

    return Actor.of(get_user(session=session, name=name))


def mine(args: argparse.Namespace) -> Report:
    from moodlab.votes import mine as my

    _, database = open_database()
    with database.session() as session:
        who = _as_annotator(session, args.annotator)
        answers = my.my_answers(session=session, actor=who, limit=max(args.limit, 1))
        total = my.count_mine(session=session, actor=who)
    return {"annotator": who.name, "total": total, "answers": [a.as_dict() for a in answers]}


def change(args: argparse.Namespace) -> Report:
    from moodlab.votes import annotation

    settings, database = open_database()
    with database.session() as session:
        who = _as_annotator(session, args.annotator)
        before = annotation.answer(
            session=session, actor=who, image_id=args.image, mood=args.mood, settings=settings
        )
    return {
        "image_id": args.image,
        "annotator": who.name,
        "before": annotation.answer_name(before.mood) if before.existed else None,
        "after": args.mood,
    }


def withdraw(args: argparse.Namespace) -> Report:
    from moodlab.votes import annotation

    _, database = open_database()
    with database.session() as session:
        who = _as_annotator(session, args.annotator)
        before = annotation.withdraw(session=session, actor=who, image_id=args.image)
    return {"image_id": args.image, "annotator": who.name, "withdrawn": before.mood or "skip"}


def undo(args: argparse.Namespace) -> Report:
    from moodlab.votes import annotation

    settings, database = open_database()
    with database.session() as session:
        who = _as_annotator(session, args.annotator)
        image_id = annotation.undo(
            session=session, actor=who, image_id=args.image, settings=settings
        )
    return {"image_id": image_id, "annotator": who.name}


def show_guidelines(args: argparse.Namespace) -> Report:
    from moodlab.votes import guidelines

    _, database = open_database()
    with database.session() as session:
        current = guidelines.current(session)
        versions = [use.as_dict() for use in guidelines.versions_in_use(session)]
    return {
        "version": current.version,
        "intro": current.intro,
        "moods": {
            name: {"definition": g.definition, "text": g.text, "examples": list(g.examples)}
            for name, g in current.moods.items()
        },
        "versions": versions,
    }


def publish_guidelines(args: argparse.Namespace) -> Report:
    import tomllib

    from moodlab.core.errors import MoodlabError
    from moodlab.votes import guidelines

    path = Path(args.file)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MoodlabError(f"{path}: cannot read the guidelines ({exc})") from None
    per_mood = {k: v for k, v in table.items() if isinstance(v, dict)}
    _, database = open_database()
    with database.session() as session:
        published = guidelines.publish(
            session=session,
            actor=actor(),
            intro=str(table.get("intro", "")),
            definitions={k: str(v.get("definition", "")) for k, v in per_mood.items()},
            texts={k: str(v.get("text", "")) for k, v in per_mood.items()},
            examples={k: list(v.get("examples", [])) for k, v in per_mood.items()},
            note=args.note,
        )
    return {"version": published.version}


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
