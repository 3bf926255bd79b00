"""The crawler against a real local site built here, with every kind of bad input."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import replace

import pytest
from sqlalchemy import select

from moodlab.core.models import Image
from moodlab.images.crawl import CrawlParams, crawl
from moodlab.images.fetch import is_public_address
from tests import media
from tests.conftest import run_cli
from tests.fixture_site import Site


@pytest.fixture
def crawl_settings(settings):
    # Small limits so the bad cases are cheap to build and quick to hit; the timeouts
    # under the slow image's 2 s but over what a loaded machine takes to answer (at 0.5 s
    # a whole first crawl once fetched nothing in CI's PostgreSQL pass).
    return replace(
        settings, crawl_read_timeout=1.0, crawl_connect_timeout=1.0, max_image_pixels=4_000_000
    )


@pytest.fixture
def site():
    site = Site().start()
    # A second loopback address that is not a seed: a stand-in for a private host.
    other = Site(host="127.0.0.2").start()
    other.add("/private.jpg", media.jpeg(99), "image/jpeg")
    red = media.picture(1)
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    site.page(
        "/",
        f"""<title>Moods</title>
        <a href="/a.html">a</a> <a href="/b.html">b</a> <a href="/private/secret.html">s</a>
        <a href="/data.html">data</a> <a href="/loop1">loop</a> <a href="mailto:x@y">mail</a>
        <img src="/img/red.jpg" alt="a red &lt;b&gt;sunset&lt;/b&gt;">
        <img srcset="/img/blue-320.jpg 320w, /img/blue-1280.jpg 1280w" src="/img/blue-320.jpg">
        <picture><source srcset="/img/green.webp"><img src="/img/green-fallback.jpg"></picture>
        <meta property="og:image" content="/img/og.png">
        <a href="/img/linked.png">a linked picture</a>
        <img src="{other.url("/private.jpg")}">""",
    )
    site.page(
        "/a.html",
        """<img src="/img/red-copy.jpg"> <img src="/img/red-resized.jpg">
        <img src="/img/fake.jpg"> <img src="/img/truncated.jpg"> <img src="/img/bomb.png">
        <img src="/img/tiny.png"> <img src="/img/slow.jpg"> <img src="/img/html.jpg">""",
    )
    site.page("/b.html", '<a href="/c.html">deeper</a>')
    site.page("/c.html", '<img src="/img/deep.jpg"> <a href="/d.html">too deep</a>')
    site.page("/d.html", '<img src="/img/too-deep.jpg">')
    site.page("/private/secret.html", '<img src="/img/secret.jpg">')
    site.add("/data.html", b"\x00\x01binary", "application/octet-stream")
    site.add("/loop1", status=302, location="/loop2")
    site.add("/loop2", status=302, location="/loop1")
    site.add("/img/red.jpg", media.encode(red, quality=92), "image/jpeg")
    site.add("/img/red-copy.jpg", media.encode(red, quality=92), "image/jpeg")
    small_red = red.resize((200, 150))
    site.add("/img/red-resized.jpg", media.encode(small_red, quality=60), "image/jpeg")
    site.add("/img/blue-320.jpg", media.jpeg(2, (320, 240)), "image/jpeg")
    site.add("/img/blue-1280.jpg", media.jpeg(3, (1280, 960)), "image/jpeg")
    site.add("/img/green.webp", media.encode(media.picture(4), "WEBP"), "image/webp")
    site.add("/img/green-fallback.jpg", media.jpeg(5), "image/jpeg")
    site.add("/img/og.png", media.png(6), "image/png")
    site.add("/img/linked.png", media.png(7), "image/png")
    site.add("/img/deep.jpg", media.jpeg(8), "image/jpeg")
    site.add("/img/too-deep.jpg", media.jpeg(9), "image/jpeg")
    site.add("/img/secret.jpg", media.jpeg(10), "image/jpeg")
    site.add("/img/fake.jpg", "this is not a picture", "image/jpeg")
    site.add("/img/truncated.jpg", media.truncated_jpeg(11), "image/jpeg")
    site.add("/img/bomb.png", media.bomb_png(4000), "image/png")
    site.add("/img/tiny.png", media.png(12, (10, 10)), "image/png")
    site.add("/img/slow.jpg", media.jpeg(13), "image/jpeg", delay=2.0)
    site.add("/img/html.jpg", "<html><body>Not found</body></html>", "image/jpeg")
    yield site
    site.stop()
    other.stop()


def run(crawl_settings, database, site, **options):
    defaults = {"seeds": [site.url("/")], "allow_private": True, "delay": 0.01, "depth": 2}
    params = CrawlParams(**(defaults | options))
    return crawl(crawl_settings, database, params.options(crawl_settings))


def reasons(report) -> dict[str, str]:
    return {
        entry["source"].split(":", 2)[-1].split("/", 1)[-1]: entry["kind"]
        for entry in report.rejected
    }


def test_the_fixture_site_is_crawled_with_every_case_handled(crawl_settings, database, site):
    report = run(crawl_settings, database, site)
    with database.session() as session:
        stored = {i.source_url.split("/")[-1]: i for i in session.scalars(select(Image))}
    assert set(stored) == {
        "red.jpg",
        "blue-1280.jpg",
        "green.webp",
        "og.png",
        "linked.png",
        "deep.jpg",
    }
    assert report.stored == 6
    assert report.duplicates == 2
    duplicates = {d["source"].split("/")[-1]: d["reason"] for d in report.duplicate_sources}
    assert duplicates["red-copy.jpg"].endswith("(same bytes)")
    assert "near-duplicate of image" in duplicates["red-resized.jpg"]
    by_source = {entry["source"].split("/")[-1]: entry for entry in report.rejected}
    expected = {
        "fake.jpg": ("not_image", "not an image"),
        "truncated.jpg": ("corrupt", "truncated or corrupt image"),
        "bomb.png": ("bomb", "decompression bomb: 4000x4000 = 16,000,000 pixels"),
        "tiny.png": ("too_small", "too small: 10x10 px"),
        "slow.jpg": ("timeout", "timed out"),
        "private.jpg": ("private_address", "127.0.0.2 resolves to the non-public address"),
        "html.jpg": ("not_image", "not an image"),
        "secret.html": ("robots", "robots.txt disallows"),
        "data.html": ("not_html", "not an HTML page: served as application/octet-stream"),
        "loop1": ("redirect_loop", "redirect loop"),
    }
    for source, (kind, reason) in expected.items():
        assert by_source[source]["kind"] == kind, by_source[source]
        assert (
            by_source[source]["reason"].startswith(reason) or reason in by_source[source]["reason"]
        )
    assert len(report.rejected) == len(expected), report.rejected
    # Depth 2 from the seed: c.html is fetched, d.html (depth 3) is not.
    assert site.requested("/c.html") == 1 and site.requested("/d.html") == 0
    # robots.txt was read once and its disallow honoured: the page was never asked for.
    assert site.requested("/robots.txt") == 1 and site.requested("/private/secret.html") == 0
    # The srcset's largest candidate only.
    assert site.requested("/img/blue-320.jpg") == 0
    red = stored["red.jpg"]
    assert red.alt_text == "a red <b>sunset</b>" and red.page_url == site.url("/")
    assert (red.width, red.height) == (256, 192)


def test_stored_images_have_original_display_and_thumbnail_and_nothing_partial(
    crawl_settings, database, site
):
    from PIL import Image as PILImage

    from moodlab.core.storage import ContentStore
    from moodlab.images.intake import display_path, thumbnail_path

    run(crawl_settings, database, site)
    store = ContentStore(crawl_settings.data_dir)
    with database.session() as session:
        images = session.scalars(select(Image)).all()
    for image in images:
        assert store.path_for(image.sha256, image.original_suffix).exists()
        with PILImage.open(thumbnail_path(store, image.sha256)) as thumb:
            assert thumb.size == (128, 128) and thumb.mode == "RGB"
        with PILImage.open(display_path(store, image.sha256)) as display:
            assert max(display.size) <= 1280
    files = [p for p in crawl_settings.data_dir.rglob("*") if p.is_file()]
    assert len(files) == 3 * len(images)
    assert not [p for p in files if p.name.endswith(".tmp")]


def test_a_second_crawl_stores_nothing_new(crawl_settings, database, site):
    first = run(crawl_settings, database, site)
    assert first.stored == 6, first
    again = run(crawl_settings, database, site)
    assert again.stored == 0 and again.duplicates == 8


def test_without_allow_private_a_loopback_seed_is_refused(crawl_settings, database, site):
    report = run(crawl_settings, database, site, allow_private=False)
    assert report.stored == 0
    assert report.rejected[0]["kind"] == "private_address"
    assert site.requests == []


def test_each_host_gets_at_least_the_delay_between_requests(crawl_settings, database, site):
    run(crawl_settings, database, site, delay=0.15, max_pages=3, max_images=3)
    times = [t for _, t in site.requests]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 4
    assert min(gaps) >= 0.14, gaps


def test_limits_on_pages_and_images(crawl_settings, database, site):
    report = run(crawl_settings, database, site, max_pages=1, max_images=2)
    assert report.stored == 2
    assert report.extra["pages_fetched"] == 1


def test_hosts_are_fetched_concurrently(crawl_settings, database):
    sites = [Site(host=f"127.0.0.{i}").start() for i in (1, 3)]
    for n, s in enumerate(sites):
        s.latency = 0.2
        s.page("/", "".join(f'<img src="/{k}.jpg">' for k in range(3)))
        for k in range(3):
            s.add(f"/{k}.jpg", media.jpeg(100 + 10 * n + k), "image/jpeg")
    try:
        params = CrawlParams(seeds=[s.url() for s in sites], allow_private=True, delay=0.0)
        options = params.options(crawl_settings)
        report = crawl(crawl_settings, database, options)
    finally:
        for s in sites:
            s.stop()
    assert report.stored == 6
    first = [min(t for _, t in s.requests) for s in sites]
    assert abs(first[0] - first[1]) < 0.15, "the second host waited for the first"
    # three images were queued on each host at once: still one request at a time
    assert [s.peak_in_flight for s in sites] == [1, 1]


def test_the_fixture_site_counts_requests_held_at_once():
    """The bound checked above can fail: two requests sent together are seen as 2."""
    site = Site(latency=0.3)
    site.page("/", "x")
    site.start()

    def get() -> None:
        connection = http.client.HTTPConnection(site.host, site.port, timeout=5)
        connection.request("GET", "/")
        connection.getresponse().read()
        connection.close()

    try:
        clients = [threading.Thread(target=get) for _ in range(2)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
    finally:
        site.stop()
    assert site.peak_in_flight == 2


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_address_classes(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # carrier-grade NAT
        "100.100.100.200",  # a cloud metadata address inside it
        "192.0.0.8",  # IETF protocol assignments
        "169.254.169.254",
        "127.0.0.1",
        "10.0.0.1",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::",  # 6to4 carrying 169.254.169.254
        "2002:7f00:1::",  # 6to4 carrying 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 carrying 169.254.169.254
        "64:ff9b::7f00:1",  # NAT64 carrying 127.0.0.1
        "64:ff9b:1::1",  # NAT64 local-use prefix
        "2001:0:7f00:1::a9fe:a9fe",  # Teredo with a loopback server
        "2001:0:808:808::ffff:ffff",  # Teredo whose client is 0.0.0.0
        "fc00::1",
        "fe80::1",
    ],
)
def test_addresses_that_are_not_global_are_refused(address):
    """Checked by the function only: no packet is sent to any of these."""
    assert is_public_address(address) is False


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:0808:0808::",  # 6to4 carrying 8.8.8.8
        "64:ff9b::808:808",  # NAT64 carrying 8.8.8.8
        "2001:0:808:808::fefe:fefe",  # Teredo: server 8.8.8.8, client 1.1.1.1
    ],
)
def test_global_addresses_are_allowed(address):
    assert is_public_address(address) is True


def test_an_allowed_host_may_still_have_a_private_address(monkeypatch):
    """The explicit allow (--allow-private for the seeds) still lets a private host through."""
    from moodlab.images.checks import Rejected
    from moodlab.images.fetch import AddressPolicy

    def resolve(host, port, **_):
        return [(None, None, None, "", ("100.64.0.1", port))]

    monkeypatch.setattr("moodlab.images.fetch.socket.getaddrinfo", resolve)
    AddressPolicy({"intranet.example"}).check("http://intranet.example/")
    with pytest.raises(Rejected, match="non-public address 100.64.0.1"):
        AddressPolicy().check("http://intranet.example/")


def test_crawl_command_prints_the_promised_json(env, site):
    assert run_cli("migrate").returncode == 0
    result = run_cli(
        "crawl",
        site.url("/"),
        "--allow-private",
        "--delay",
        "0.01",
        "--json",
        env={"MOODLAB_CRAWL_READ_TIMEOUT": "0.5", "MOODLAB_MAX_IMAGE_PIXELS": "4000000"},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stored"] == 6 and report["duplicates"] == 2
    assert isinstance(report["job_id"], int)
    assert all(set(r) >= {"source", "reason"} for r in report["rejected"])
    listed = json.loads(run_cli("images", "list", "--json").stdout)["images"]
    assert len(listed) == 6
    assert set(listed[0]) >= {"id", "sha256", "source_url", "width", "height"}
    job = json.loads(run_cli("jobs", "show", str(report["job_id"]), "--json").stdout)
    assert job["status"] == "succeeded" and job["kind"] == "crawl"


def test_a_huge_crawl_delay_is_capped_and_a_cancel_during_the_wait_ends_the_crawl(
    crawl_settings, database
):
    import threading
    import time

    from moodlab.images.crawl import MAX_CRAWL_DELAY, Crawler
    from moodlab.images.fetch import FetchLimits
    from moodlab.images.intake import Intake
    from moodlab.jobs.context import JobCancelled

    site = Site().start()
    site.add("/robots.txt", "User-agent: *\nCrawl-delay: 100000\n", "text/plain")
    site.page("/", '<img src="/1.jpg"> <img src="/2.jpg">')
    site.add("/1.jpg", media.jpeg(1), "image/jpeg")
    cancel = threading.Event()

    def check_stop():
        if cancel.is_set():
            raise JobCancelled()

    params = CrawlParams(seeds=[site.url("/")], allow_private=True, delay=0.0)
    crawler = Crawler(
        params.options(crawl_settings),
        Intake(crawl_settings, database),
        FetchLimits(0.5, 0.5),
        wake=cancel,
        check_stop=check_stop,
    )
    outcome: list[BaseException] = []

    def run():
        try:
            crawler.run()
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    thread = threading.Thread(target=run)
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while site.requested("/") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # the crawl is now waiting out the host's delay
        assert crawler.hosts["127.0.0.1"].delay == MAX_CRAWL_DELAY == 30.0
        cancel.set()
        asked = time.monotonic()
        thread.join(5)
        stopped_after = time.monotonic() - asked
    finally:
        site.stop()
    assert not thread.is_alive()
    assert stopped_after < 1.0, stopped_after
    assert len(outcome) == 1 and isinstance(outcome[0], JobCancelled)
    assert site.requested("/1.jpg") == 0  # still waiting for its turn when cancelled


def test_requests_per_crawl_are_capped(crawl_settings, database, site):
    report = run(crawl_settings, database, site, max_requests=3)
    assert report.extra["requests"] == 3  # robots.txt, the seed, one more (any host)
    assert len(site.requests) <= 3 and report.stored <= 1


# IANA's special-purpose address registries (IPv4 and IPv6), every block whose
# "Globally Reachable" is False or N/A, and from the IPv6 address space registry the
# deprecated site-local block and multicast. Left out: the blocks that carry an IPv4
# address (IPv4-mapped ::ffff:0:0/96, 6to4 2002::/16, Teredo 2001::/32), judged by the
# IPv4 inside them (the tests above). Checked by the function only: no packet is sent
# to any of these.
NOT_GLOBALLY_REACHABLE = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.0.0/29",
    "192.0.0.8/32",
    "192.0.0.170/31",
    "192.0.2.0/24",
    "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
    "192.88.99.2/32",  # 6a44 relay anycast
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "224.0.0.0/4",
    "::1/128",
    "::/128",
    "64:ff9b:1::/48",
    "100::/64",
    "100:0:0:1::/64",
    "2001::/23",
    "2001:2::/48",
    "2001:10::/28",
    "2001:db8::/32",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",  # deprecated site-local (RFC 3879)
    "ff00::/8",
]


@pytest.mark.parametrize("block", NOT_GLOBALLY_REACHABLE)
def test_every_block_iana_lists_as_not_globally_reachable_is_refused(block):
    import ipaddress

    network = ipaddress.ip_network(block)
    middle = network.network_address + network.num_addresses // 2
    for address in (network.network_address, middle, network.broadcast_address):
        assert is_public_address(str(address)) is False, address


@pytest.mark.parametrize(
    "address",
    ["192.31.196.1", "192.52.193.1", "192.175.48.1", "2620:4f:8000::1"],  # AS112, AMT
)
def test_blocks_iana_lists_as_globally_reachable_stay_reachable(address):
    assert is_public_address(address) is True


def robots_site(robots: str, **resource) -> Site:
    """A site whose robots.txt is ``robots`` (or an answer made of ``resource``)."""
    site = Site().start()
    site.add("/robots.txt", robots, "text/plain", **resource)
    site.page(
        "/",
        """<a href="/gallery/closed.html">closed</a> <a href="/gallery/open/a.html">open</a>
        <a href="/tie.html">tie</a> <img src="/img/1.jpg"> <img src="/img/2.jpg?size=large">
        <img src="/img/3.png">""",
    )
    site.page("/gallery/closed.html", '<img src="/img/4.png">')
    site.page("/gallery/open/a.html", '<img src="/img/5.png">')
    site.page("/tie.html", "")
    site.add("/img/1.jpg", media.jpeg(21), "image/jpeg")
    site.add("/img/2.jpg?size=large", media.jpeg(22), "image/jpeg")
    site.add("/img/3.png", media.png(23), "image/png")
    site.add("/img/4.png", media.png(24), "image/png")
    site.add("/img/5.png", media.png(25), "image/png")
    return site


RFC_9309_ROBOTS = """\
User-agent: *
Disallow: /

# A group named after a word of moodlab's User-Agent comment is not moodlab's.
User-agent: crawler
Disallow: /img/

User-agent: moodlab
Disallow: /*.jpg$
Disallow: /gallery/
Allow: /gallery/open/
Disallow: /tie.html
Allow: /tie.html
Crawl-delay: 0.3
"""


def test_robots_txt_wildcards_precedence_and_crawl_delay_follow_rfc_9309(crawl_settings, database):
    site = robots_site(RFC_9309_ROBOTS)
    try:
        report = run(crawl_settings, database, site, delay=0.0)
    finally:
        site.stop()
    refused = {entry["source"].split("/", 3)[-1] for entry in report.rejected}
    # `/*.jpg$`: a URL ending in .jpg is refused; one that goes on after it is not.
    assert "img/1.jpg" in refused and site.requested("/img/1.jpg") == 0
    assert site.requested("/img/2.jpg?size=large") == 1
    # The longest matching rule wins: Allow /gallery/open/ over Disallow /gallery/.
    assert "gallery/closed.html" in refused and site.requested("/gallery/closed.html") == 0
    assert site.requested("/gallery/open/a.html") == 1
    # An Allow and a Disallow of the same path: the Allow wins.
    assert site.requested("/tie.html") == 1
    assert report.stored == 3  # 2.jpg, 3.png and 5.png from the open gallery
    assert all(entry["kind"] == "robots" for entry in report.rejected), report.rejected
    # Crawl-delay: 0.3 for moodlab, though the crawl asked for no delay.
    times = [t for path, t in site.requests if path != "/robots.txt"]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 5 and min(gaps) >= 0.28, gaps


@pytest.mark.parametrize(
    ("answer", "crawled"),
    [
        ({"status": 404}, True),  # no robots.txt: everything allowed
        ({"status": 403}, True),  # RFC 9309: any 4xx counts as none
        ({"status": 503}, False),  # a server error: do not crawl
        ({"status": 302, "location": "/robots.txt"}, False),  # never answers: do not crawl
    ],
)
def test_a_robots_txt_that_cannot_be_read_counts_as_rfc_9309_says(
    crawl_settings, database, answer, crawled
):
    site = robots_site("User-agent: *\nDisallow: /\n", **answer)
    try:
        report = run(crawl_settings, database, site, delay=0.0)
    finally:
        site.stop()
    assert (site.requested("/") == 1) is crawled
    if not crawled:
        assert report.stored == 0
        assert [entry["kind"] for entry in report.rejected] == ["robots"]
        assert "unreachable" in report.rejected[0]["reason"]


def test_a_cancel_asked_of_a_running_crawl_job_ends_it_within_about_a_second(
    database, settings, lead
):
    """Through the job table, as the Jobs page cancels: the worker reads the flag."""
    import time

    from moodlab.core.models import Job, JobStatus
    from moodlab.images.actions import start_crawl
    from moodlab.job_kinds import KINDS
    from moodlab.jobs import queue as jobs
    from moodlab.jobs.worker import JobWorker

    assert settings.job_heartbeat_seconds == 5.0  # the default: a cancel must not wait for it
    site = Site().start()
    site.add("/robots.txt", "User-agent: *\nCrawl-delay: 100000\n", "text/plain")
    site.page("/", '<img src="/1.jpg">')
    site.add("/1.jpg", media.jpeg(1), "image/jpeg")
    params = CrawlParams(seeds=[site.url("/")], allow_private=True, delay=0.0)
    with database.session() as session:
        job_id = start_crawl(session=session, actor=lead, settings=settings, params=params).id
    worker = JobWorker(settings, database, kinds=KINDS)
    thread = threading.Thread(target=worker.run, kwargs={"once": True})

    def status() -> JobStatus:
        with database.session() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job.status

    try:
        thread.start()
        # robots.txt asks for a delay (capped at 30 s) before the first page: once it
        # is read, the crawl waits out that delay.
        deadline = time.monotonic() + 20
        while site.requested("/robots.txt") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        assert site.requested("/robots.txt") == 1 and site.requested("/") == 0
        with database.session() as session:
            jobs.request_cancel(session=session, actor=lead, job_id=job_id)
        asked = time.monotonic()
        while status() == JobStatus.RUNNING and time.monotonic() < asked + 10:
            time.sleep(0.02)
        took = time.monotonic() - asked
    finally:
        worker.stop_event.set()
        thread.join(10)
        site.stop()
    assert status() == JobStatus.CANCELLED
    assert took < 1.5, f"the cancel took {took:.1f} s"
    assert site.requested("/1.jpg") == 0
