"""The Scrapy side of benchmarks/crawl.py: the same site, the same politeness.

Run by benchmarks/crawl.py in its own process, with the benchmark venv's Scrapy
(requirements-bench.txt, `make bench`):

    .venv-bench/bin/scrapy runspider benchmarks/scrapy_spider.py \
        -a seeds=http://127.0.0.1:PORT/,... -a out=DIR -s DOWNLOAD_DELAY=0 \
        -s TWISTED_REACTOR=twisted.internet.epollreactor.EPollReactor

It obeys robots.txt, keeps one request in flight per host (CONCURRENT_REQUESTS_PER_DOMAIN,
slots per host name) with the same total concurrency as moodlab's default (8), follows
links from the seed pages only (depth 1, as moodlab's run), and writes every image's
bytes to a file named by its sha256 (no fsync, no checks: less work than moodlab does).

The reactor matters for the bound. Scrapy 2.19's downloader pops a host's queued
requests while that host has free transfer slots, but counts a request as
transferring only once its download coroutine runs: on Twisted's own reactors that is
at once, on the asyncio reactor (the default) it is on a later turn of the loop, so
with no delay every request queued on a host starts together (the fixture server saw
up to 7 at once on one host). benchmarks/crawl.py runs it on the epoll reactor.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import scrapy


class SiteSpider(scrapy.Spider):
    name = "site"
    custom_settings = {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "USER_AGENT": "moodlab-benchmark-scrapy",
    }

    def __init__(self, seeds: str = "", out: str = ".", **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [seed for seed in seeds.split(",") if seed]
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.pages = self.images = 0

    def parse(self, response, seed: bool = True):
        self.pages += 1
        if seed:
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href, self.parse, cb_kwargs={"seed": False})
        for src in response.css("img::attr(src)").getall():
            yield response.follow(src, self.save_image)

    def save_image(self, response):
        self.images += 1
        name = hashlib.sha256(response.body).hexdigest()
        (self.out / f"{name}.img").write_bytes(response.body)

    def closed(self, reason):
        print(json.dumps({"pages": self.pages, "stored": self.images}), flush=True)
