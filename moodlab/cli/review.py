"""`moodlab review ...`: the label review, exclusions, sending images back for new votes."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from moodlab.cli.common import Report, Subcommands, actor, command, group, open_database

# Each command imports its services when it runs: a command imports only what it needs.

IMAGE_HELP = "the image's id or sha256"


def register(sub: Subcommands) -> None:
    review = group(sub, "review", "labels a model disputes: exclude an image, or send it back")
    listed = command(
        review, "list", "images whose label the out-of-fold predictions dispute", list_disputed
    )
    listed.add_argument("--model", type=int, help="a model's id (default: the newest with folds)")
    exclude = command(review, "exclude", "leave an image out of new snapshots", exclude_image)
    exclude.add_argument("image", help=IMAGE_HELP)
    exclude.add_argument("--reason", required=True, help="why (kept with who and when)")
    command(
        review,
        "include",
        "undo an exclusion: new snapshots may take the image again",
        include_image,
    ).add_argument("image", help=IMAGE_HELP)
    back = command(
        review,
        "send-back",
        "archive an image's votes and put it back in the annotators' queues",
        send_back,
    )
    back.add_argument("image", help=IMAGE_HELP)
    back.add_argument("--reason", required=True, help="why (kept with who and when)")
    command(
        review, "history", "an image's rounds of votes (archived ones too) and exclusions", history
    ).add_argument("image", help=IMAGE_HELP)


def list_disputed(args: argparse.Namespace) -> Report:
    from moodlab.datasets import review as label_review

    settings, database = open_database()
    with database.session() as session:
        found = label_review.label_review(
            session=session, actor=actor(), settings=settings, model_id=args.model
        )
    if found is None:
        note = "no model has out-of-fold probabilities: train with 2 or more folds"
        return {"model_id": None, "disputed": [], "note": note}
    return asdict(found)


def exclude_image(args: argparse.Namespace) -> Report:
    from moodlab.datasets import exclusions

    _, database = open_database()
    with database.session() as session:
        made = exclusions.exclude(
            session=session, actor=actor(), image=args.image, reason=args.reason
        )
        return {
            "image_id": made.image_id,
            "excluded": True,
            "reason": made.reason,
            "at": made.excluded_at,
        }


def include_image(args: argparse.Namespace) -> Report:
    from moodlab.datasets import exclusions

    _, database = open_database()
    with database.session() as session:
        lifted = exclusions.include(session=session, actor=actor(), image=args.image)
        return {"image_id": lifted.image_id, "excluded": False, "lifted_at": lifted.lifted_at}


def send_back(args: argparse.Namespace) -> Report:
    from moodlab.votes import rounds

    _, database = open_database()
    with database.session() as session:
        sent = rounds.send_back(
            session=session, actor=actor(), image=args.image, reason=args.reason
        )
    return asdict(sent) | {"now_in_round": sent.round + 1}


def history(args: argparse.Namespace) -> Report:
    from moodlab.datasets import review as label_review

    _, database = open_database()
    with database.session() as session:
        found = label_review.image_history(session=session, actor=actor(), image=args.image)
    report: dict[str, Any] = asdict(found)
    report["excluded"] = found.excluded
    return report
