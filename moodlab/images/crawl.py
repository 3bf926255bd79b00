"""A polite concurrent crawler that feeds the candidate pool.

Several hosts are fetched at once, each host one request at a time with at
least ``delay`` seconds between request starts (more if its robots.txt asks).
Pages are followed within the seeds' hosts up to ``depth`` links from a seed;
images are fetched from any public host. The scheduler and all bookkeeping stay
in the calling thread; pool threads only fetch, parse and check images.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.images.checks import CheckedImage, Rejected
from moodlab.images.fetch import USER_AGENT, AddressPolicy, Fetcher, FetchLimits
from moodlab.images.intake import Intake, IntakeReport, Provenance
from moodlab.images.links import extract
from moodlab.jobs.context import JobContext, JobParams

HTML_TYPES = ("text/html", "application/xhtml+xml")
# The longest Crawl-delay a robots.txt may ask for: a host asking more (Crawl-delay: 100000
# would make a crawl that never ends) is still crawled, at one request per 30 s.
MAX_CRAWL_DELAY = 30.0
# Requests one crawl makes at most, robots.txt and redirects' first hops included: a
# bound that holds whatever the pages link to (max_pages and max_images bound the rest).
MAX_REQUESTS = 5000
# The longest the scheduler waits before it looks at the cancel and stop flags again.
WAIT_SLICE = 0.25


@dataclass
class CrawlParams(JobParams):
    """A crawl as the lead asks for it: the one home of its defaults and checks."""

    KIND = "crawl"
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
            seeds=tuple(self.seeds), max_pages=self.max_pages, max_images=self.max_images,
            depth=self.depth, allow_private=self.allow_private,
            delay=settings.crawl_delay_seconds if self.delay is None else self.delay,
            concurrency=settings.crawl_concurrency, max_requests=self.max_requests,
        )  # fmt: skip


@dataclass(frozen=True)
class CrawlOptions:
    """What the crawler runs with: the params, with the settings' delay and concurrency."""

    seeds: tuple[str, ...]
    max_pages: int
    max_images: int
    depth: int
    allow_private: bool
    delay: float
    concurrency: int
    max_requests: int = MAX_REQUESTS


@dataclass(frozen=True)
class Task:
    url: str
    kind: str  # "robots", "page" or "image"
    depth: int = 0
    page_url: str | None = None
    alt: str | None = None
    license: str | None = None
    attribution: str | None = None


@dataclass
class Host:
    name: str
    queue: deque = field(default_factory=deque)
    next_start: float = 0.0
    busy: bool = False
    robots: urllib.robotparser.RobotFileParser | None = None
    delay: float = 0.0


class Crawler:
    def __init__(
        self,
        options: CrawlOptions,
        intake: Intake,
        limits: FetchLimits,
        *,
        on_progress: Callable[[Crawler], None] | None = None,
        private_hosts: frozenset[str] = frozenset(),
        wake: threading.Event | None = None,
        check_stop: Callable[[], None] | None = None,
    ):
        """``private_hosts``: with allow_private, hosts besides the seeds' that may be private.

        ``check_stop`` raises to end the crawl (a job's cancel or its worker's stop); it is
        called on every turn of the loop, and every wait is a wait on ``wake`` (set when
        a cancel is asked) of at most WAIT_SLICE seconds, so a crawl stops within that.
        """
        self.wake = wake or threading.Event()
        self.check_stop = check_stop or (lambda: None)
        self.options = options
        self.intake = intake
        self.seed_hosts = {host_of(url) for url in options.seeds}
        allowed = self.seed_hosts | private_hosts if options.allow_private else set()
        policy = AddressPolicy(allowed)
        self.fetcher = Fetcher(policy, limits)
        self.on_progress = on_progress or (lambda crawler: None)
        self.hosts: dict[str, Host] = {}
        self.seen: set[str] = set()
        self.pages_fetched = 0
        self.pages_scheduled = 0
        self.images_found = 0
        self.images_in_flight = 0
        self.requests = 0
        self._sent: dict[str, float] = {}  # url -> when its request was sent

    @property
    def report(self) -> IntakeReport:
        report = self.intake.report
        report.extra.update(
            pages_fetched=self.pages_fetched,
            images_found=self.images_found,
            requests=self.requests,
        )
        return report

    # -- the frontier ------------------------------------------------------------------------

    def _enqueue(self, task: Task) -> None:
        if task.url in self.seen:
            return
        self.seen.add(task.url)
        if task.kind == "image":
            self.images_found += 1
        host = self.hosts.get(host_of(task.url))
        if host is None:
            host = self.hosts[host_of(task.url)] = Host(host_of(task.url), delay=self.options.delay)
            root = urlsplit(task.url)
            host.queue.append(Task(f"{root.scheme}://{root.netloc}/robots.txt", "robots"))
        host.queue.append(task)

    def _next_ready(self, host: Host) -> Task | None:
        """The next task of ``host`` that the limits still allow, or None."""
        while host.queue:
            task = host.queue[0]
            if task.kind == "page" and self.pages_scheduled >= self.options.max_pages:
                host.queue.popleft()
                continue
            images_taken = self.intake.report.stored + self.images_in_flight
            if task.kind == "image" and images_taken >= self.options.max_images:
                return None  # wait: a duplicate or rejection may free a slot
            return host.queue.popleft()
        return None

    def _done(self) -> bool:
        return self.intake.report.stored >= self.options.max_images

    # -- the loop ----------------------------------------------------------------------------

    def run(self, images: Sequence[Task] = ()) -> IntakeReport:
        """Crawl from the seed pages; ``images`` are fetched as if found on a page."""
        for task in images:
            self._enqueue(task)
        for seed in self.options.seeds:
            try:
                self.fetcher.policy.check(seed)
            except Rejected as rejected:
                self.intake.reject(seed, rejected)
                continue
            self._enqueue(Task(seed, "page"))
        running: dict[Future, tuple[Host, Task]] = {}
        pool = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="crawl")
        try:
            while not self._done():
                self.check_stop()
                self._dispatch(pool, running)
                if not running:
                    if not self._has_waiting_work():
                        break
                    self.wake.wait(self._seconds_until_next_start())
                    continue
                finished, _ = wait(
                    running, timeout=self._seconds_until_next_start(), return_when=FIRST_COMPLETED
                )
                for future in finished:
                    host, task = running.pop(future)
                    host.busy = False
                    self._settle(task, future)  # may set the host's delay (robots.txt)
                    sent = self._sent.pop(task.url, 0.0)
                    host.next_start = max(host.next_start, sent + host.delay)
                self.on_progress(self)
        finally:
            # A cancelled crawl does not wait for fetches in flight (each ends by its deadline).
            pool.shutdown(wait=not running, cancel_futures=True)
        return self.report

    def _has_waiting_work(self) -> bool:
        if self.requests >= self.options.max_requests:
            return False
        return any(host.queue for host in self.hosts.values())

    def _seconds_until_next_start(self) -> float:
        now = time.monotonic()
        waiting = [h.next_start - now for h in self.hosts.values() if h.queue and not h.busy]
        return min(WAIT_SLICE, max(0.005, min(waiting, default=0.05)))

    def _dispatch(self, pool: ThreadPoolExecutor, running: dict) -> None:
        now = time.monotonic()
        for host in self.hosts.values():
            if len(running) >= self.options.concurrency:
                return
            if self.requests >= self.options.max_requests:
                return
            if host.busy or host.next_start > now:
                continue
            task = self._next_ready(host)
            if task is None:
                continue
            if task.kind != "robots" and not self._allowed_by_robots(host, task):
                continue
            if task.kind == "page":
                self.pages_scheduled += 1
            elif task.kind == "image":
                self.images_in_flight += 1
            host.busy = True
            host.next_start = now + host.delay
            self.requests += 1
            running[pool.submit(self._work, task)] = (host, task)

    def _allowed_by_robots(self, host: Host, task: Task) -> bool:
        if host.robots is None or host.robots.can_fetch(USER_AGENT, task.url):
            return True
        self.intake.reject(task.url, Rejected("robots", "robots.txt disallows it for moodlab"))
        return False

    # -- one task (in a pool thread) ---------------------------------------------------------

    def _work(self, task: Task):
        try:
            return self._work_on(task)
        finally:  # when the request left, as the host saw it: the delay counts from there
            self._sent[task.url] = self.fetcher.last_start()

    def _work_on(self, task: Task):
        if task.kind == "robots":
            return self._fetch_robots(task)
        fetched = self.fetcher.get(task.url)
        if fetched.status >= 400:
            raise Rejected("http_error", f"HTTP {fetched.status}")
        if task.kind == "page":
            if fetched.content_type not in HTML_TYPES:
                raise Rejected(
                    "not_html", f"not an HTML page: served as {fetched.content_type or 'unknown'}"
                )
            return extract(fetched.body, fetched.url)
        if fetched.content_type in HTML_TYPES:
            raise Rejected("not_image", f"not an image: served as {fetched.content_type}")
        return self.intake.check(fetched.body), fetched.url

    def _fetch_robots(self, task: Task) -> urllib.robotparser.RobotFileParser:
        parser = urllib.robotparser.RobotFileParser(task.url)
        try:
            fetched = self.fetcher.get(task.url, max_bytes=500_000)
        except Rejected as rejected:
            if rejected.kind in ("private_address", "bad_url"):
                raise  # the whole host is refused, for that reason
            fetched = None
        if fetched is None or fetched.status >= 500:
            # RFC 9309: unreachable robots.txt means "do not crawl". RobotFileParser.read()
            # sets these two flags the same way; typeshed leaves them out of its stubs.
            parser.disallow_all = True  # type: ignore[attr-defined]
        elif fetched.status >= 400:
            parser.allow_all = True  # type: ignore[attr-defined]  # no robots.txt: all allowed
        else:
            parser.parse(fetched.body.decode("utf-8", errors="replace").splitlines())
        return parser

    # -- results (back in the scheduler thread) ----------------------------------------------

    def _settle(self, task: Task, future: Future) -> None:
        host = self.hosts[host_of(task.url)]
        if task.kind == "image":
            self.images_in_flight -= 1
        try:
            result = future.result()
        except Rejected as rejected:
            if task.kind != "robots":
                self.intake.reject(task.url, rejected)
                return
            for waiting in host.queue:  # the host itself is refused
                self.intake.reject(waiting.url, rejected)
            host.queue.clear()
            return
        if task.kind == "robots":
            host.robots = result
            delay = result.crawl_delay(USER_AGENT)
            host.delay = max(self.options.delay, min(float(delay or 0), MAX_CRAWL_DELAY))
            if result.disallow_all:
                for waiting in host.queue:
                    self.intake.reject(
                        waiting.url, Rejected("robots", "robots.txt is unreachable: not crawled")
                    )
                host.queue.clear()
        elif task.kind == "page":
            self.pages_fetched += 1
            for image in result.images:
                self._enqueue(Task(image.url, "image", task.depth, task.url, image.alt))
            if task.depth < self.options.depth:
                for url in result.pages:
                    if host_of(url) in self.seed_hosts:
                        self._enqueue(Task(url, "page", task.depth + 1))
        else:
            checked, final_url = result
            self._store(task, checked, final_url)

    def _store(self, task: Task, checked: CheckedImage, final_url: str) -> None:
        provenance = Provenance(
            source=task.url, source_url=final_url, page_url=task.page_url, alt_text=task.alt,
            license=task.license, attribution=task.attribution,
        )  # fmt: skip
        self.intake.add_checked(checked, provenance)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


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
        ctx.settings, ctx.database, options, job_id=ctx.job_id, on_progress=on_progress,
        wake=ctx.cancel_event, check_stop=ctx.check_cancelled,
    )  # fmt: skip
    ctx.log(f"done: {report.stored} stored")
    return report.as_dict(ctx.job_id)
