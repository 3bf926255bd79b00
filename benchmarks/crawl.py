"""moodlab's crawler against Scrapy and a sequential baseline: whole processes, one run.

    make bench-deps          # once: Scrapy into .venv-bench (requirements-bench.txt)
    .venv/bin/python benchmarks/crawl.py [--pages 200] [--images 1000] [--delay 0]
                                         [--rounds 3] [--skip baseline]

A local site of PAGES pages and IMAGES images spread over 4 host names
(127.0.0.1 to 127.0.0.4), each response delayed by 20 ms, served by this process.
Each contender runs as its own process, timed from start to exit, in alternated
order round by round, and all obey robots.txt with one request in flight per host
and the same per-host delay:

- moodlab: `python -m moodlab crawl SEEDS --depth 1 --allow-private --delay D --json`
  (moodlab byte-compiled first, as `make` leaves it)
  into a fresh, migrated database and data dir (every image checked, stored with its
  display copy and thumbnail, its row committed); the whole command: its imports,
  the schema check, queueing and claiming its job, its progress rows and its exit;
- crawler: the same crawl through moodlab.images.crawl.crawl in a process that imports
  only what a crawl needs, as a warm worker runs a crawl job (its imports done);
- Scrapy (benchmarks/scrapy_spider.py), which only writes each image's bytes to a file,
  on Twisted's epoll reactor: on the asyncio reactor (Scrapy's default since 2.13) it
  starts every request queued on a host at once when the delay is 0, up to 7 in flight
  on one host here; `--also scrapy-asyncio` runs it that way too, for the record;
- the sequential baseline (requests + BeautifulSoup, one URL at a time, through
  moodlab's intake), unless skipped.

The politeness floor is the least time the busiest host's delays allow: (requests to
it - 1) x delay. The "peak" column is the most requests one host held at once (the
fixture server counts them): a contender whose peak is over 1 broke the bound, and
gets no ratio. docs/benchmarks.md quotes the output, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.robotparser
from collections import Counter, deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import media  # noqa: E402
from tests.fixture_site import Site  # noqa: E402

HOSTS = [f"127.0.0.{i}" for i in range(1, 5)]
LATENCY = 0.020
SCRAPY = ROOT / ".venv-bench" / "bin" / "scrapy"
EPOLL_REACTOR = "twisted.internet.epollreactor.EPollReactor"
ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def build_sites(pages: int, images: int) -> list[Site]:
    sites = []
    per_host_pages, per_page_images = pages // len(HOSTS), images // pages
    seed = 0
    for host in HOSTS:
        site = Site(host=host, latency=LATENCY)
        site.add("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
        links = " ".join(f'<a href="/p{i}.html">{i}</a>' for i in range(1, per_host_pages))
        for i in range(per_host_pages):
            imgs = []
            for k in range(per_page_images):
                seed += 1
                site.add(f"/img/{i}-{k}.jpg", media.jpeg(seed, (160, 120)), "image/jpeg")
                imgs.append(f'<img src="/img/{i}-{k}.jpg" alt="picture {seed}">')
            site.page("/" if i == 0 else f"/p{i}.html", (links if i == 0 else "") + "".join(imgs))
        sites.append(site.start())
    return sites


def child_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MOODLAB_DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite'}",
        "MOODLAB_DATA_DIR": str(tmp / "data"),
    }


def command(name: str, seeds: list[str], args: argparse.Namespace, tmp: Path) -> list[str]:
    if name == "moodlab":
        return [
            sys.executable,
            "-m",
            "moodlab",
            "crawl",
            *seeds,
            "--depth",
            "1",
            "--allow-private",
            "--delay",
            str(args.delay),
            "--max-pages",
            str(args.pages),
            "--max-images",
            str(args.images),
            "--json",
        ]
    if name == "crawler":
        return [
            sys.executable,
            str(Path(__file__).resolve()),
            "--crawler-child",
            "--delay",
            str(args.delay),
            "--pages",
            str(args.pages),
            "--images",
            str(args.images),
            *seeds,
        ]
    if name.startswith("scrapy"):
        reactor = ASYNCIO_REACTOR if name == "scrapy-asyncio" else EPOLL_REACTOR
        return [
            str(SCRAPY),
            "runspider",
            str(ROOT / "benchmarks" / "scrapy_spider.py"),
            "-a",
            f"seeds={','.join(seeds)}",
            "-a",
            f"out={tmp / 'scrapy'}",
            "-s",
            f"DOWNLOAD_DELAY={args.delay}",
            "-s",
            f"TWISTED_REACTOR={reactor}",
        ]
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--baseline-child",
        "--delay",
        str(args.delay),
        *seeds,
    ]


def run_one(name: str, sites: list[Site], args: argparse.Namespace) -> dict:
    seeds = [site.url("/") for site in sites]
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp_name:
        tmp = Path(tmp_name)
        env = child_env(tmp)
        if not name.startswith("scrapy"):
            subprocess.run(
                [sys.executable, "-m", "moodlab", "migrate"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        for site in sites:
            site.requests.clear()
            site.peak_in_flight = 0
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            command(name, seeds, args, tmp), env=env, cwd=ROOT, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    per_host = Counter(site.host for site in sites for _ in site.requests)
    floor = max(0, max(per_host.values()) - 1) * args.delay
    return {
        "pages": out.get("pages_fetched", out.get("pages")),
        "stored": out["stored"],
        "seconds": seconds,
        "requests": sum(per_host.values()),
        "floor": floor,
        "cpu": cpu,
        "crawl_seconds": out.get("crawl_seconds"),
        "peak": max(site.peak_in_flight for site in sites),
    }


def crawler_child(args: argparse.Namespace) -> None:
    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.images.crawl import CrawlOptions, crawl

    settings = Settings.from_env()
    options = CrawlOptions(
        seeds=tuple(args.seeds),
        max_pages=args.pages,
        max_images=args.images,
        depth=1,
        allow_private=True,
        delay=args.delay,
        concurrency=settings.crawl_concurrency,
    )
    start = time.perf_counter()
    report = crawl(settings, Database(settings.database_url), options)
    print(json.dumps(report.as_dict() | {"crawl_seconds": time.perf_counter() - start}))


def baseline_child(seeds: list[str], delay: float) -> None:
    """One URL at a time, breadth first, with the same politeness and the same intake."""
    import requests
    from bs4 import BeautifulSoup

    from moodlab.core.config import Settings
    from moodlab.core.db import Database
    from moodlab.images.fetch import USER_AGENT
    from moodlab.images.intake import Intake, Provenance

    settings = Settings.from_env()
    intake = Intake(settings, Database(settings.database_url))
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    last_request: dict[str, float] = {}
    robots: dict[str, urllib.robotparser.RobotFileParser] = {}
    queue, seen, pages = deque((url, "page", 0) for url in seeds), set(seeds), 0

    def get(url: str) -> requests.Response:
        host = urlsplit(url).netloc
        wait = last_request.get(host, 0.0) + delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last_request[host] = time.monotonic()
        return session.get(url, timeout=10)

    while queue:
        url, kind, depth = queue.popleft()
        root = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        if root not in robots:
            robots[root] = urllib.robotparser.RobotFileParser()
            robots[root].parse(get(root + "/robots.txt").text.splitlines())
        if not robots[root].can_fetch(USER_AGENT, url):
            continue
        response = get(url)
        if kind == "image":
            intake.add_bytes(response.content, Provenance(source=url, source_url=url))
            continue
        pages += 1
        soup = BeautifulSoup(response.content, "html.parser")
        found = [(urljoin(url, img["src"]), "image") for img in soup.find_all("img", src=True)]
        if depth < 1:
            found += [(urljoin(url, a["href"]), "page") for a in soup.find_all("a", href=True)]
        for link, link_kind in found:
            if link not in seen:
                seen.add(link)
                queue.append((link, link_kind, depth + 1))
    print(json.dumps({"pages": pages, "stored": intake.report.stored}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.0, help="per-host delay (s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[], help="a contender to leave out")
    parser.add_argument(
        "--also", action="append", default=[], choices=["scrapy-asyncio"], help="a contender to add"
    )
    parser.add_argument("--baseline-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--crawler-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("seeds", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        baseline_child(args.seeds, args.delay)
        return
    if args.crawler_child:
        crawler_child(args)
        return
    names = [n for n in ("moodlab", "crawler", "scrapy", "baseline") if n not in args.skip]
    names += args.also
    if any(n.startswith("scrapy") for n in names) and not SCRAPY.exists():
        raise SystemExit(f"no {SCRAPY}: run `make bench-deps` first (requirements-bench.txt)")
    # moodlab byte-compiled as `make` leaves it (Scrapy's packages are, by pip); where
    # PYTHONDONTWRITEBYTECODE is set every command would compile its modules again.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "moodlab"], cwd=ROOT, check=True)
    sites = build_sites(args.pages, args.images)
    results: dict[str, list[dict]] = {name: [] for name in names}
    loads = [os.getloadavg()[0]]
    try:
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                results[name].append(run_one(name, sites, args))
                loads.append(os.getloadavg()[0])
    finally:
        for site in sites:
            site.stop()
    print(
        f"{args.pages} pages, {args.images} images on {len(HOSTS)} hosts, {LATENCY * 1000:.0f} ms"
        f" latency, {args.delay:g} s per-host delay, at most 1 request in flight per host;"
        f" {args.rounds} alternated rounds; load average (1 min)"
        f" {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} CPUs"
    )
    header = (
        f"{'':15}{'pages':>6}{'stored':>7}{'requests':>9}{'peak':>5}{'median s':>9}"
        f"{'cpu s':>6}{'rounds s':>24}"
    )
    print(header + ("  x floor" if args.delay else ""))
    medians, peaks = {}, {}
    for name, runs in results.items():
        medians[name] = statistics.median(r["seconds"] for r in runs)
        rounds = " ".join(f"{r['seconds']:.1f}" for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        peaks[name] = max(r["peak"] for r in runs)
        line = (
            f"{name:15}{runs[-1]['pages']:6d}{runs[-1]['stored']:7d}{runs[-1]['requests']:9d}"
            f"{peaks[name]:5d}{medians[name]:9.2f}{cpu:6.1f}{rounds:>24}"
        )
        if args.delay:
            floor = runs[-1]["floor"]
            line += f"  {medians[name] / floor:.2f} (floor {floor:.1f} s)"
        print(line)
        if runs[-1]["crawl_seconds"] is not None:
            inside = statistics.median(r["crawl_seconds"] for r in runs)
            floor_note = f", {inside / runs[-1]['floor']:.2f} x floor" if args.delay else ""
            print(
                f"{'':15}of which the crawl itself (after imports): median {inside:.2f} s"
                f"{floor_note}"
            )
    for name in ("moodlab", "crawler"):
        for other in ("scrapy", "scrapy-asyncio"):
            if name not in medians or other not in medians:
                continue
            if peaks[other] > 1:
                print(f"{name} / {other}: none ({other} held {peaks[other]} requests at once)")
            else:
                print(f"{name} / {other}: {medians[name] / medians[other]:.2f}")
    broke = [name for name, peak in peaks.items() if peak > 1]
    if broke:
        print("over the bound of 1 request in flight per host: " + ", ".join(broke))


if __name__ == "__main__":
    main()
