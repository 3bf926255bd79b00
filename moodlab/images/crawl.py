"""A crawl job: what the lead asks for (CrawlParams), and the job that runs it.

The crawler itself (scheduler, fetch threads, storing workers) is in
moodlab/images/crawler.py; its names are importable from here too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Role
from moodlab.images.checks import Rejected
from moodlab.images.crawler import (
    MAX_CRAWL_DELAY,
    MAX_REQUESTS,
    Crawler,
    CrawlOptions,
    Task,
    host_of,
)
from moodlab.images.fetch import FetchLimits
from moodlab.images.intake import Intake, IntakeReport, job_result
from moodlab.jobs.context import JobContext, JobParams

__all__ = ["MAX_CRAWL_DELAY", "CrawlOptions", "CrawlParams", "Crawler", "Task", "crawl", "host_of"]


@dataclass
class CrawlParams(JobParams):
    """A crawl as the lead asks for it: the one home of its defaults and checks."""

    KIND = "crawl"
    TITLE = "web crawl"
    ROLE = Role.LEAD
    # A host that timed out is worth another try, a minute later.
    TRIES = 3
    RETRY_ON = frozenset({"database", "disk", "network"})
    RETRY_DELAY_S = 60.0
    TIME_LIMIT_S = 4 * 3600.0
    seeds: list[str] = field(default_factory=list)
    max_pages: int = 100
    max_images: int = 500
    depth: int = 2  # links followed from a seed
    allow_private: bool = False  # let the seed hosts be private or loopback addresses
    delay: float | None = None  # seconds between requests to one host; None: the setting
    max_requests: int = MAX_REQUESTS  # requests of the whole crawl, robots.txt included

    def validate(self, settings: Settings) -> None:
        self.seeds = [seed.strip() for seed in self.seeds if seed.strip()]
        if not self.seeds:
            raise Rejected("bad_option", "give at least one seed URL")
        for seed in self.seeds:
            if urlsplit(seed).scheme not in ("http", "https") or not host_of(seed):
                raise Rejected("bad_url", f"{seed!r} is not an http or https URL")
        for name in ("max_pages", "max_images", "max_requests"):
            if getattr(self, name) < 1:
                raise Rejected("bad_option", f"{name.replace('_', ' ')} must be at least 1")
        if self.depth < 0 or (self.delay is not None and self.delay < 0):
            raise Rejected("bad_option", "the depth and the delay cannot be negative")

    def options(self, settings: Settings) -> CrawlOptions:
        return CrawlOptions(
            seeds=tuple(self.seeds),
            max_pages=self.max_pages,
            max_images=self.max_images,
            depth=self.depth,
            allow_private=self.allow_private,
            delay=settings.crawl_delay_seconds if self.delay is None else self.delay,
            concurrency=settings.crawl_concurrency,
            max_requests=self.max_requests,
        )


def crawl(
    settings: Settings,
    database: Database,
    options: CrawlOptions,
    *,
    job_id: int | None = None,
    on_progress: Callable[[Crawler], None] | None = None,
    wake: threading.Event | None = None,
    check_stop: Callable[[], None] | None = None,
) -> IntakeReport:
    limits = FetchLimits(
        connect_timeout=settings.crawl_connect_timeout,
        read_timeout=settings.crawl_read_timeout,
        max_bytes=settings.max_image_bytes,
    )
    intake = Intake(settings, database, job_id=job_id)
    crawler = Crawler(
        options, intake, limits, on_progress=on_progress, wake=wake, check_stop=check_stop
    )
    return crawler.run()


def progress_of(crawler: Crawler) -> float:
    """How far along: the larger of the page and the image budgets used."""
    report = crawler.intake.report
    return min(
        1.0,
        max(
            crawler.pages_fetched / crawler.options.max_pages,
            report.stored / crawler.options.max_images,
        ),
    )


def run_crawl(ctx: JobContext, params: CrawlParams) -> dict:
    options = params.options(ctx.settings)
    ctx.log(f"crawling {', '.join(options.seeds)}")

    def on_progress(crawler: Crawler) -> None:
        report = crawler.report
        message = (
            f"{crawler.pages_fetched} pages, {report.stored} stored, {report.duplicates}"
            f" duplicates, {sum(report.rejected_by_reason.values())} rejected"
        )
        ctx.progress(progress_of(crawler), message, result=report.as_dict(ctx.job_id))

    report = crawl(
        ctx.settings,
        ctx.database,
        options,
        job_id=ctx.job_id,
        on_progress=on_progress,
        wake=ctx.cancel_event,
        check_stop=ctx.check_cancelled,
    )
    ctx.log(f"done: {report.stored} stored")
    return job_result(report, ctx.job_id, what="URL")
