"""How long the crawler's link extraction takes on a page with very many links.

    .venv/bin/python benchmarks/links.py [--links 100000] [--rounds 3]

Builds one HTML page with LINKS anchors (and as many images and void <br> tags,
the shape that made html.parser quadratic) and times moodlab.images.links.extract
on it, the whole parse with the cap applied. docs/benchmarks.md quotes the output;
the target is under 2 s for 100,000 links.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moodlab.images.links import MAX_LINKS_PER_PAGE, extract  # noqa: E402


def page(links: int) -> bytes:
    body = "".join(
        f'<a href="/p/{i}.html">page {i}</a><br><img src="/i/{i}.jpg" alt="picture {i}"><br>\n'
        for i in range(links)
    )
    head = "<!doctype html><html><head><title>many</title></head>"
    return f"{head}<body>{body}</body></html>".encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    html = page(args.links)
    print(
        f"{args.links:,} links and {args.links:,} images, {len(html) / 1e6:.1f} MB of HTML,"
        f" cap {MAX_LINKS_PER_PAGE:,} per page; load average {os.getloadavg()[0]:.2f}"
    )
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        found = extract(html, "http://site.test/")
        times.append(time.perf_counter() - start)
    seconds = ", ".join(f"{t:.2f}" for t in times)
    print(
        f"extract: {len(found.pages):,} pages, {len(found.images):,} images kept;"
        f" seconds per parse: {seconds} (best {min(times):.2f})"
    )


if __name__ == "__main__":
    main()
