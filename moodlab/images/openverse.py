"""Keyword sourcing from Openverse's public image search (off unless configured).

Set MOODLAB_OPENVERSE_URL (for example https://api.openverse.org/v1/images/) to
turn it on. Each hit's licence and Openverse's ready-made attribution line are
recorded with the image. Results are fetched through the crawler, so the same
politeness, address checks, validation and de-duplication apply.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.images.checks import Rejected
from moodlab.images.crawl import Crawler, CrawlOptions, Task, host_of
from moodlab.images.fetch import AddressPolicy, Fetcher, FetchLimits
from moodlab.images.intake import Intake, IntakeReport, job_result
from moodlab.jobs.context import JobContext, JobParams

# Openverse serves at most 20 results a page to anonymous clients.
PAGE_SIZE = 20


@dataclass
class OpenverseParams(JobParams):
    """A keyword search as the lead asks for it (defaults and checks live here only)."""

    KIND = "openverse"
    TITLE = "Openverse search"
    ROLE = Role.LEAD
    # An API that timed out is worth another try, a minute later.
    TRIES = 3
    RETRY_ON = frozenset({"database", "disk", "network"})
    RETRY_DELAY_S = 60.0
    query: str = ""
    max_images: int = 50
    licenses: str | None = None  # licence codes, comma-separated, e.g. "cc0,by"
    allow_private: bool = False  # let the API host be a private address

    def validate(self, settings: Settings) -> None:
        api_url(settings)  # off unless configured: say so before queueing anything
        self.query = self.query.strip()
        if not self.query:
            raise Rejected("bad_option", "give a search keyword")
        if self.max_images < 1:
            raise Rejected("bad_option", "max images must be at least 1")


def api_url(settings: Settings) -> str:
    if not settings.openverse_url:
        raise MoodlabError(
            "Openverse sourcing is off: set MOODLAB_OPENVERSE_URL (for example"
            " https://api.openverse.org/v1/images/) to turn it on"
        )
    return settings.openverse_url


def search(fetcher: Fetcher, url: str, query: str, limit: int, licenses: str | None) -> list[Task]:
    """Image tasks for up to ``limit`` hits, following Openverse's pages."""
    tasks: list[Task] = []
    page = 1
    while len(tasks) < limit:
        params = {"q": query, "page": page, "page_size": PAGE_SIZE}
        if licenses:
            params["license"] = licenses
        fetched = fetcher.get(f"{url}?{urlencode(params)}", max_bytes=5_000_000)
        if fetched.status != 200:
            raise MoodlabError(f"Openverse answered HTTP {fetched.status} for {query!r}")
        try:
            body = json.loads(fetched.body)
            results = body["results"]
        except (ValueError, KeyError, TypeError):
            raise MoodlabError("Openverse's answer is not the documented JSON") from None
        for hit in results:
            if not isinstance(hit, dict) or not hit.get("url"):
                continue
            tasks.append(
                Task(
                    url=hit["url"],
                    kind="image",
                    page_url=hit.get("foreign_landing_url"),
                    alt=hit.get("title"),
                    license=_licence(hit),
                    attribution=hit.get("attribution"),
                )
            )
        if not results or page >= int(body.get("page_count") or 1):
            break
        page += 1
    return tasks[:limit]


def _licence(hit: dict) -> str | None:
    code, version = hit.get("license"), hit.get("license_version")
    if not code:
        return None
    return f"{code.upper()} {version}" if version else code.upper()


def source(
    settings: Settings,
    database: Database,
    *,
    query: str,
    max_images: int,
    licenses: str | None = None,
    allow_private: bool = False,
    job_id: int | None = None,
    on_progress: Callable[[Crawler], None] | None = None,
) -> IntakeReport:
    url = api_url(settings)
    limits = FetchLimits(
        settings.crawl_connect_timeout, settings.crawl_read_timeout, settings.max_image_bytes
    )
    allowed = {host_of(url)} if allow_private else set()
    hits = search(Fetcher(AddressPolicy(allowed), limits), url, query, max_images, licenses)
    options = CrawlOptions(
        seeds=(),
        max_pages=1,
        max_images=max_images,
        depth=0,
        allow_private=allow_private,
        delay=settings.crawl_delay_seconds,
        concurrency=settings.crawl_concurrency,
    )
    crawler = Crawler(
        options,
        Intake(settings, database, job_id=job_id),
        limits,
        on_progress=on_progress,
        private_hosts=frozenset(allowed),
    )
    report = crawler.run(images=hits)
    report.extra.update(query=query, hits=len(hits))
    return report


def run_openverse(ctx: JobContext, params: OpenverseParams) -> dict:
    ctx.log(f"searching Openverse for {params.query!r}")

    def on_progress(crawler: Crawler) -> None:
        report = crawler.report
        ctx.progress(
            report.stored / max(1, crawler.options.max_images),
            f"{report.stored} stored",
            result=report.as_dict(ctx.job_id),
        )

    report = source(
        ctx.settings,
        ctx.database,
        query=params.query,
        max_images=params.max_images,
        licenses=params.licenses,
        allow_private=params.allow_private,
        job_id=ctx.job_id,
        on_progress=on_progress,
    )
    return job_result(report, ctx.job_id, what="image")
