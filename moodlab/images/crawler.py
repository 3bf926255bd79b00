"""The crawl's scheduler: a frontier per host, fetch threads, storing workers.

Several hosts are fetched at once, each host one request at a time with at least
its delay between the requests it receives (more if its robots.txt asks, up to
MAX_CRAWL_DELAY). A fetch thread only fetches: the host is free again as soon as
the body has arrived. Parsing pages, checking images (decoded once) and storing
them run on a small pool of storing workers, which commit rows in batches; the
scheduler thread only keeps the books, and every wait it makes is a wait on the
cancel flag.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from moodlab.images.checks import Rejected
from moodlab.images.fetch import AddressPolicy, Fetched, Fetcher, FetchLimits
from moodlab.images.intake import Intake, IntakeReport, Provenance
from moodlab.images.links import PageLinks, extract
from moodlab.images.robots import MAX_ROBOTS_BYTES, Robots

HTML_TYPES = ("text/html", "application/xhtml+xml")
# The longest Crawl-delay a robots.txt may ask for: a host asking more (Crawl-delay: 100000
# would make a crawl that never ends) is still crawled, at one request per 30 s.
MAX_CRAWL_DELAY = 30.0
# Requests one crawl makes at most, robots.txt and redirects' first hops included: a
# bound that holds whatever the pages link to (max_pages and max_images bound the rest).
MAX_REQUESTS = 5000
# The longest the scheduler waits before it looks at the cancel and stop flags again.
WAIT_SLICE = 0.25
# Threads that parse pages and check and store images (decoding is CPU work, storing is
# mostly waiting on fsync): on a 2-core machine, two keep up with a dozen fetch threads.
STORING_WORKERS = 2


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
    robots: Robots | None = None
    delay: float = 0.0


FLUSH = Task("", "flush")  # a storing worker's batch commit, in the books of work in flight


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


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
        self.options = options
        self.intake = intake
        self.seed_hosts = {host_of(url) for url in options.seeds}
        allowed = self.seed_hosts | private_hosts if options.allow_private else set()
        self.fetcher = Fetcher(AddressPolicy(allowed), limits)
        self.on_progress = on_progress or (lambda crawler: None)
        self.wake = wake or threading.Event()
        self.check_stop = check_stop or (lambda: None)
        self.hosts: dict[str, Host] = {}
        self.seen: set[str] = set()
        self.pages_fetched = 0
        self.pages_scheduled = 0
        self.images_found = 0
        self.images_in_flight = 0  # fetched or being checked, not yet stored or refused
        self.requests = 0
        self._sent: dict[str, float] = {}  # url -> when its response began to arrive
        self._ended: queue.SimpleQueue[Future] = queue.SimpleQueue()  # see _finished

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

    def _images_taken(self) -> int:
        return self.intake.report.stored + self.intake.pending + self.images_in_flight

    def _next_ready(self, host: Host) -> Task | None:
        """The next task of ``host`` that the limits still allow, or None."""
        while host.queue:
            task = host.queue[0]
            if task.kind == "page" and self.pages_scheduled >= self.options.max_pages:
                host.queue.popleft()
                continue
            if task.kind == "image" and self._images_taken() >= self.options.max_images:
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
        fetching: dict[Future, tuple[Host, Task]] = {}
        storing: dict[Future, Task] = {}
        fetch_pool = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="crawl")
        store_pool = ThreadPoolExecutor(STORING_WORKERS, thread_name_prefix="crawl-store")
        try:
            while not self._done():
                self.check_stop()
                self._dispatch(fetch_pool, fetching)
                if self.intake.flush_due() and FLUSH not in storing.values():
                    storing[self._watched(store_pool.submit(self.intake.flush))] = FLUSH
                if not fetching and not storing:
                    if self.intake.pending:  # idle: commit what waits, then go on
                        storing[self._watched(store_pool.submit(self.intake.flush))] = FLUSH
                        continue
                    if not self._has_waiting_work():
                        break
                    self.wake.wait(self._seconds_until_next_start())
                    continue
                for future in self._finished(self._seconds_until_next_start()):
                    if future in fetching:
                        host, task = fetching.pop(future)
                        self._fetched(host, task, future, store_pool, storing)
                    elif future in storing:
                        self._stored(storing.pop(future), future)
                self.on_progress(self)
        finally:
            # A cancelled crawl does not wait for fetches in flight (each ends by its
            # deadline); storing work is short, and what it wrote is committed.
            fetch_pool.shutdown(wait=not fetching, cancel_futures=True)
            store_pool.shutdown(wait=True, cancel_futures=True)
            self.intake.flush()
        return self.report

    def _watched(self, future: Future) -> Future:
        """``future``, which puts itself on the finished queue when it ends."""
        future.add_done_callback(self._ended.put)
        return future

    def _finished(self, timeout: float) -> list[Future]:
        """The futures that ended since the last turn, waiting up to ``timeout`` for one.

        A turn costs the same however many futures are in flight (``futures.wait`` took
        every one's lock on every turn: a quarter of the scheduler thread's time).
        """
        try:
            ended = [self._ended.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                ended.append(self._ended.get_nowait())
            except queue.Empty:
                return ended

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
            running[self._watched(pool.submit(self._fetch, task))] = (host, task)

    def _allowed_by_robots(self, host: Host, task: Task) -> bool:
        if host.robots is None or host.robots.allows(task.url):
            return True
        self.intake.reject(task.url, Rejected("robots", "robots.txt disallows it for moodlab"))
        return False

    # -- fetch threads: the request only ----------------------------------------------------

    def _fetch(self, task: Task) -> Fetched | Robots:
        try:
            if task.kind == "robots":
                return self._fetch_robots(task)
            fetched = self.fetcher.get(task.url)
        finally:  # the host had the request by then: its delay counts from there
            self._sent[task.url] = self.fetcher.last_answered()
        if fetched.status >= 400:
            raise Rejected("http_error", f"HTTP {fetched.status}")
        if task.kind == "page" and fetched.content_type not in HTML_TYPES:
            raise Rejected(
                "not_html", f"not an HTML page: served as {fetched.content_type or 'unknown'}"
            )
        if task.kind == "image" and fetched.content_type in HTML_TYPES:
            raise Rejected("not_image", f"not an image: served as {fetched.content_type}")
        return fetched

    def _fetch_robots(self, task: Task) -> Robots:
        try:
            fetched = self.fetcher.get(task.url, max_bytes=MAX_ROBOTS_BYTES)
        except Rejected as rejected:
            if rejected.kind in ("private_address", "bad_url"):
                raise  # the whole host is refused, for that reason
            fetched = None
        return Robots.of_response(fetched)

    # -- storing workers: parse, check, store ------------------------------------------------

    def _process(self, task: Task, fetched: Fetched) -> PageLinks | bool:
        if task.kind == "page":
            return extract(fetched.body, fetched.url)
        checked = self.intake.check(fetched.body)
        provenance = Provenance(
            source=task.url,
            source_url=fetched.url,
            page_url=task.page_url,
            alt_text=task.alt,
            license=task.license,
            attribution=task.attribution,
        )
        return self.intake.stage(checked, provenance)

    # -- results (back in the scheduler thread) ----------------------------------------------

    def _fetched(
        self, host: Host, task: Task, future: Future, pool: ThreadPoolExecutor, storing: dict
    ) -> None:
        """A response has arrived: the host is free; its body goes to a storing worker."""
        host.busy = False
        try:
            result = future.result()
        except Rejected as rejected:
            self._refused(host, task, rejected)
        else:
            if task.kind == "robots":
                self._robots(host, result)
            else:
                storing[self._watched(pool.submit(self._process, task, result))] = task
        sent = self._sent.pop(task.url, 0.0)
        host.next_start = max(host.next_start, sent + host.delay)

    def _refused(self, host: Host, task: Task, rejected: Rejected) -> None:
        if task.kind == "image":
            self.images_in_flight -= 1
        if task.kind != "robots":
            self.intake.reject(task.url, rejected)
            return
        for waiting in host.queue:  # the host itself is refused
            self.intake.reject(waiting.url, rejected)
        host.queue.clear()

    def _robots(self, host: Host, robots: Robots) -> None:
        host.robots = robots
        delay = robots.crawl_delay()
        host.delay = max(self.options.delay, min(float(delay or 0), MAX_CRAWL_DELAY))
        if robots.unreachable:
            for waiting in host.queue:
                self.intake.reject(
                    waiting.url, Rejected("robots", "robots.txt is unreachable: not crawled")
                )
            host.queue.clear()

    def _stored(self, task: Task, future: Future) -> None:
        if task is FLUSH:
            future.result()  # a failed commit fails the crawl
            return
        if task.kind == "image":
            self.images_in_flight -= 1
        try:
            result = future.result()
        except Rejected as rejected:
            self.intake.reject(task.url, rejected)
            return
        if task.kind == "page":
            self.pages_fetched += 1
            for image in result.images:
                self._enqueue(Task(image.url, "image", task.depth, task.url, image.alt))
            if task.depth < self.options.depth:
                for url in result.pages:
                    if host_of(url) in self.seed_hosts:
                        self._enqueue(Task(url, "page", task.depth + 1))
