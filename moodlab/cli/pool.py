"""`moodlab pool ...`: the image pool as the Pool page shows it: list with filters, one
image in full, and the lead's actions on many images at once."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from moodlab.cli.common import (
    FailedWithReport,
    Report,
    Subcommands,
    actor,
    command,
    group,
    open_database,
)

# Each command imports its services when it runs: a command imports only what it needs.


def register(sub: Subcommands) -> None:
    pool = group(sub, "pool", "browse the image pool and act on many images")
    list_ = command(pool, "list", "a page of images, filtered and searched", list_pool)
    list_.add_argument("--tier", help="train, test, disputed, no_consensus or pending")
    list_.add_argument("--mood", help="the top mood of the votes now")
    list_.add_argument("--source", help="web, files, unknown, or a host (example.org)")
    list_.add_argument("--job", type=int, help="the crawl or import job that brought it in")
    list_.add_argument("--since", type=date.fromisoformat, help="added on or after YYYY-MM-DD")
    list_.add_argument("--until", type=date.fromisoformat, help="added on or before YYYY-MM-DD")
    excluded = list_.add_mutually_exclusive_group()
    excluded.add_argument("--excluded", action="store_true", help="only excluded images")
    excluded.add_argument("--not-excluded", action="store_true", help="only images not excluded")
    list_.add_argument("--search", default="", help="in file names, URLs, alt text, sha256")
    list_.add_argument("--page", type=int, default=1)
    list_.add_argument("--per-page", type=int, default=48)
    show = command(pool, "show", "one image: its votes now and its provenance", show_image)
    show.add_argument("image_id", type=int)
    for name, help_, handler, reason in (
        ("exclude", "leave images out of new snapshots", exclude, True),
        ("include", "lift images' exclusions", include, False),
        ("send-back", "send images back for a new round of votes", send_back, True),
        ("delete", "delete images no snapshot holds, with their files", delete, False),
    ):
        action = command(pool, name, help_, handler)
        action.add_argument("image_ids", type=int, nargs="+", metavar="IMAGE_ID")
        if reason:
            action.add_argument("--reason", required=True, help="why (kept with the time)")
    held_ = command(pool, "held", "near-duplicates intake jobs held back", held)
    held_.add_argument("--job", type=int, help="only those this crawl or import job held")
    keep_ = command(pool, "keep", "store held near-duplicates after all", keep)
    keep_.add_argument("held", nargs="+", metavar="JOB_ID:SHA256", help="as `pool held` lists them")


def list_pool(args: argparse.Namespace) -> Report:
    from moodlab.datasets.pool import PoolFilter, browse

    settings, database = open_database()
    where = PoolFilter(
        tier=args.tier,
        mood=args.mood,
        source=args.source,
        job_id=args.job,
        since=args.since,
        until=args.until,
        excluded=True if args.excluded else False if args.not_excluded else None,
        search=args.search,
        page=args.page,
        per_page=args.per_page,
    )
    with database.session() as session:
        found = browse(session=session, actor=actor(), settings=settings, where=where)
    return {
        "total": found.total,
        "page": found.page,
        "pages": found.pages,
        "images": [
            {
                "id": i.id,
                "sha256": i.sha256,
                "name": i.name,
                "tier": i.tier,
                "mood": i.mood,
                "excluded": i.excluded,
                "source_url": i.source_url,
                "original_name": i.original_name,
                "job_id": i.job_id,
                "added_at": i.created_at.isoformat(timespec="seconds"),
                "width": i.width,
                "height": i.height,
            }
            for i in found.items
        ],
    }


def show_image(args: argparse.Namespace) -> Report:
    from moodlab.datasets.pool import pool_image

    settings, database = open_database()
    with database.session() as session:
        found = pool_image(session=session, actor=actor(), settings=settings, image=args.image_id)
    return {
        "id": found.item.id,
        "sha256": found.item.sha256,
        "tier": found.item.tier,
        "mood": found.item.mood,
        "round": found.round,
        "votes": [
            {"annotator": v.annotator, "mood": v.mood, "at": v.at.isoformat(timespec="seconds")}
            for v in found.votes
        ],
        "excluded": found.exclusion_reason,
        "snapshots": found.snapshots,
        "provenance": found.provenance(),
        "display": str(found.display),
    }


def _bulk(done: Any) -> Report:
    """The report; each refusal on stderr too; an error when nothing was done."""
    for refused in done.refused:
        print(f"moodlab: image {refused['image']}: {refused['reason']}", file=sys.stderr)
    report: Report = done.as_dict()
    if done.refused and not done.done:
        raise FailedWithReport(f"{done.action}: every image was refused", report)
    return report


def exclude(args: argparse.Namespace) -> Report:
    from moodlab.datasets.pool import exclude_images

    _, database = open_database()
    return _bulk(
        exclude_images(database=database, actor=actor(), images=args.image_ids, reason=args.reason)
    )


def include(args: argparse.Namespace) -> Report:
    from moodlab.datasets.pool import include_images

    _, database = open_database()
    return _bulk(include_images(database=database, actor=actor(), images=args.image_ids))


def send_back(args: argparse.Namespace) -> Report:
    from moodlab.datasets.pool import send_back_images

    _, database = open_database()
    return _bulk(
        send_back_images(
            database=database, actor=actor(), images=args.image_ids, reason=args.reason
        )
    )


def delete(args: argparse.Namespace) -> Report:
    from moodlab.datasets.pool import delete_images

    settings, database = open_database()
    return _bulk(
        delete_images(database=database, actor=actor(), settings=settings, images=args.image_ids)
    )


def held(args: argparse.Namespace) -> Report:
    from moodlab.datasets.pool import held_images

    settings, database = open_database()
    with database.session() as session:
        found = held_images(session=session, actor=actor(), settings=settings, job_id=args.job)
    return {
        "held": [
            {
                "held": f"{h.job_id}:{h.sha256}",
                "source": h.source,
                "reason": h.reason,
                "duplicate_of": h.duplicate_of,
            }
            for h in found
        ]
    }


def keep(args: argparse.Namespace) -> Report:
    from moodlab.core.errors import MoodlabError
    from moodlab.datasets.pool import keep_held

    pairs = []
    for text in args.held:
        job, _, sha256 = text.partition(":")
        if not job.isdigit() or not sha256:
            raise MoodlabError(f"{text!r} is not JOB_ID:SHA256 (see `moodlab pool held`)")
        pairs.append((int(job), sha256))
    settings, database = open_database()
    return _bulk(keep_held(database=database, actor=actor(), settings=settings, held=pairs))
