"""`moodlab crawl`, `openverse`, `import` and `images list`: the candidate pool."""

from __future__ import annotations

import argparse

from moodlab.cli.common import (
    Report,
    Subcommands,
    actor,
    command,
    detachable,
    group,
    open_database,
    run_here,
)

# Each command imports its services when it runs: a command imports only what it needs.


def register(sub: Subcommands) -> None:
    from moodlab.images.crawl import CrawlParams
    from moodlab.images.openverse import OpenverseParams

    crawl_ = command(
        sub, "crawl", "crawl web pages for candidate images (as a job, run here)", crawl
    )
    detachable(crawl_)
    crawl_.add_argument("urls", nargs="+", metavar="URL", help="seed pages")
    default = CrawlParams.default
    crawl_.add_argument(
        "--max-pages",
        type=int,
        default=default("max_pages"),
        help=f"pages to fetch at most ({default('max_pages')})",
    )
    crawl_.add_argument(
        "--max-images",
        type=int,
        default=default("max_images"),
        help=f"images to store at most ({default('max_images')})",
    )
    crawl_.add_argument(
        "--depth",
        type=int,
        default=default("depth"),
        help=f"links to follow from a seed ({default('depth')})",
    )
    crawl_.add_argument(
        "--max-requests",
        type=int,
        default=default("max_requests"),
        help=f"requests at most ({default('max_requests')})",
    )
    crawl_.add_argument(
        "--delay",
        type=float,
        help="seconds between requests to one host (MOODLAB_CRAWL_DELAY_SECONDS)",
    )
    crawl_.add_argument(
        "--allow-private",
        action="store_true",
        help="let the seed hosts be private or loopback addresses (a lab-internal site)",
    )

    openverse_ = command(
        sub,
        "openverse",
        "source images by keyword from Openverse (needs MOODLAB_OPENVERSE_URL)",
        openverse,
    )
    detachable(openverse_)
    openverse_.add_argument("query", metavar="QUERY")
    limit = OpenverseParams.default("max_images")
    openverse_.add_argument(
        "--max-images", type=int, default=limit, help=f"images to store at most ({limit})"
    )
    openverse_.add_argument("--license", help="licence codes, comma-separated, e.g. cc0,by")
    openverse_.add_argument(
        "--allow-private", action="store_true", help="let the API host be a private address"
    )

    import_ = command(
        sub, "import", "import the images of a folder or a .zip (as a job, run here)", import_images
    )
    detachable(import_)
    import_.add_argument("path", metavar="PATH")

    images = group(sub, "images", "the candidate pool")
    command(images, "list", "every image with its source", list_images)
    near = command(
        images,
        "near-duplicates",
        "the near-duplicates an intake job left out, with the images they resemble",
        list_near_duplicates,
    )
    near.add_argument("job_id", type=int)
    keep = command(images, "keep-both", "store a near-duplicate an intake job left out", keep_both)
    keep.add_argument("job_id", type=int)
    keep.add_argument("sha256", help="the left-out candidate's sha256 (see near-duplicates)")


def intake_summary(report: Report) -> Report:
    """The promised keys first (docs/cli.md), then the rest."""
    keys = ("stored", "duplicates", "rejected", "job_id")
    return {key: report[key] for key in keys} | {
        key: value for key, value in report.items() if key not in keys
    }


def crawl(args: argparse.Namespace) -> Report:
    from moodlab.images.actions import start_crawl
    from moodlab.images.crawl import CrawlParams

    params = CrawlParams(
        seeds=args.urls,
        max_pages=args.max_pages,
        max_images=args.max_images,
        depth=args.depth,
        allow_private=args.allow_private,
        delay=args.delay,
        max_requests=args.max_requests,
    )
    return run_here(start_crawl, params=params, shape=intake_summary, detach=args.detach)


def openverse(args: argparse.Namespace) -> Report:
    from moodlab.images.actions import start_openverse
    from moodlab.images.openverse import OpenverseParams

    params = OpenverseParams(
        query=args.query,
        max_images=args.max_images,
        licenses=args.license,
        allow_private=args.allow_private,
    )
    return run_here(start_openverse, params=params, shape=intake_summary, detach=args.detach)


def import_images(args: argparse.Namespace) -> Report:
    from moodlab.images.actions import start_import
    from moodlab.images.importer import ImportParams

    params = ImportParams(path=args.path)
    return run_here(start_import, params=params, shape=intake_summary, detach=args.detach)


def list_images(args: argparse.Namespace) -> Report:
    from sqlalchemy import select

    from moodlab.core.models import Image

    _, database = open_database()
    with database.session() as session:
        rows = session.scalars(select(Image).order_by(Image.id)).all()
        return {
            "images": [
                {
                    "id": i.id,
                    "sha256": i.sha256,
                    "source_url": i.source_url,
                    "width": i.width,
                    "height": i.height,
                    "page_url": i.page_url,
                    "license": i.license,
                }
                for i in rows
            ]
        }


def list_near_duplicates(args: argparse.Namespace) -> Report:
    from moodlab.images import duplicates
    from moodlab.jobs.queue import get_job

    settings, database = open_database()
    with database.session() as session:
        job = get_job(session=session, actor=actor(), job_id=args.job_id)
        found = duplicates.near_duplicates(settings=settings, job=job)
        return {
            "near_duplicates": [
                {
                    "source": d.source,
                    "reason": d.reason,
                    "sha256": d.sha256,
                    "duplicate_of": d.duplicate_of,
                    "preview": str(d.preview),
                    "kept_as": d.kept_as,
                }
                for d in found
            ]
        }


def keep_both(args: argparse.Namespace) -> Report:
    from moodlab.images import duplicates

    settings, database = open_database()
    with database.session() as session:
        image_id = duplicates.keep_both(
            session=session,
            actor=actor(),
            settings=settings,
            database=database,
            job_id=args.job_id,
            sha256=args.sha256,
        )
    return {"job_id": args.job_id, "sha256": args.sha256, "image_id": image_id}
