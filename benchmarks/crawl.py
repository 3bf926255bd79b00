"""The crawler against a sequential requests + BeautifulSoup baseline, in one run.

    .venv/bin/python benchmarks/crawl.py [--pages 200] [--images 1000] [--delay 0.05]

A local site of PAGES pages and IMAGES images spread over 4 host names
(127.0.0.1 to 127.0.0.4), each response delayed by 20 ms. Both crawlers obey the
same per-host delay and robots.txt, and put every image through the same checks
and storage (moodlab.images.intake), each into its own fresh database. The baseline
fetches one URL at a time in breadth-first order; moodlab's crawler fetches the
hosts concurrently. docs/benchmarks.md quotes the output.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.robotparser
from collections import deque
from dataclasses import replace
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from bs4 import BeautifulSoup

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moodlab.core.config import Settings  # noqa: E402
from moodlab.core.db import Database  # noqa: E402
from moodlab.core.migrations import upgrade  # noqa: E402
from moodlab.images.checks import Rejected  # noqa: E402
from moodlab.images.crawl import CrawlOptions, crawl  # noqa: E402
from moodlab.images.fetch import USER_AGENT  # noqa: E402
from moodlab.images.intake import Intake, Provenance  # noqa: E402
from tests import media  # noqa: E402
from tests.fixture_site import Site  # noqa: E402

HOSTS = [f"127.0.0.{i}" for i in range(1, 5)]
LATENCY = 0.020


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


def fresh_settings(tmp: Path, name: str) -> tuple[Settings, Database]:
    settings = replace(
        Settings.from_env({}),
        database_url=f"sqlite:///{tmp / name / 'db.sqlite'}",
        data_dir=tmp / name / "data",
    )
    database = Database(settings.database_url)
    upgrade(database)
    return settings, database


def baseline(seeds: list[str], settings: Settings, database: Database, delay: float) -> dict:
    """One URL at a time, breadth first, with the same politeness and the same intake."""
    intake = Intake(settings, database)
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    last_request: dict[str, float] = {}
    robots: dict[str, urllib.robotparser.RobotFileParser] = {}
    queue, seen, pages = deque((url, "page") for url in seeds), set(seeds), 0

    def get(url: str) -> requests.Response:
        host = urlsplit(url).netloc
        wait = last_request.get(host, 0.0) + delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last_request[host] = time.monotonic()
        return session.get(url, timeout=10)

    while queue:
        url, kind = queue.popleft()
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
        found = [(urljoin(url, a["href"]), "page") for a in soup.find_all("a", href=True)]
        found += [(urljoin(url, img["src"]), "image") for img in soup.find_all("img", src=True)]
        for link, link_kind in found:
            if link not in seen:
                seen.add(link)
                queue.append((link, link_kind))
    return {"pages": pages, "stored": intake.report.stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.05, help="per-host delay (s)")
    args = parser.parse_args()
    sites = build_sites(args.pages, args.images)
    seeds = [site.url("/") for site in sites]
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings, database = fresh_settings(Path(tmp), "moodlab")
            options = CrawlOptions(
                seeds=tuple(seeds), max_pages=args.pages, max_images=args.images, depth=1,
                allow_private=True, delay=args.delay, concurrency=settings.crawl_concurrency,
            )  # fmt: skip
            start = time.perf_counter()
            report = crawl(settings, database, options)
            seconds = time.perf_counter() - start
            results["moodlab crawler"] = (report.extra["pages_fetched"], report.stored, seconds)

            settings, database = fresh_settings(Path(tmp), "baseline")
            start = time.perf_counter()
            done = baseline(seeds, settings, database, args.delay)
            results["sequential baseline"] = (
                done["pages"],
                done["stored"],
                time.perf_counter() - start,
            )
    except Rejected as exc:
        raise SystemExit(f"benchmark failed: {exc}") from None
    finally:
        for site in sites:
            site.stop()
    print(
        f"{args.pages} pages, {args.images} images on {len(HOSTS)} hosts,"
        f" {LATENCY * 1000:.0f} ms latency, {args.delay:g} s per-host delay"
    )
    print(f"{'':22}{'pages':>7}{'stored':>8}{'seconds':>9}{'pages/s':>9}{'images/s':>10}")
    for name, (pages, stored, seconds) in results.items():
        rates = f"{pages / seconds:9.1f}{stored / seconds:10.1f}"
        print(f"{name:22}{pages:7d}{stored:8d}{seconds:9.1f}{rates}")
    ours, base = results["moodlab crawler"][2], results["sequential baseline"][2]
    print(f"speed-up: {base / ours:.1f}x")


if __name__ == "__main__":
    main()
