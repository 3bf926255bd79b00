"""Links and images from a page: what is found, and the cap on how many."""

from __future__ import annotations

from moodlab.images.links import MAX_LINKS_PER_PAGE, extract


def test_links_and_images_are_found_in_each_place():
    found = extract(
        """<title> Moods </title><a href="/a.html#top">a</a> <a href="mailto:x@y">m</a>
        <img src="/r.jpg" alt=" red "><img srcset="/s-1.jpg 320w, /s-2.jpg 1280w" src="/s-1.jpg">
        <picture><source srcset="/g.webp"><img src="/g.jpg" alt="green"></picture>
        <meta property="og:image" content="/og.png"><a href="/linked.png">a <b>linked</b> one</a>
        <a href="javascript:void(0)">js</a><a href="http://[bad/">bad</a>""",
        "http://site.test/dir/",
    )
    assert found.title == "Moods"
    assert found.pages == ["http://site.test/a.html"]
    assert [(i.url.rsplit("/", 1)[-1], i.alt) for i in found.images] == [
        ("r.jpg", "red"),
        ("s-2.jpg", None),
        ("g.webp", "green"),
        ("og.png", None),
        ("linked.png", "a linked one"),
    ]
    assert not found.truncated


def test_links_and_images_per_page_are_capped():
    html = "".join(f'<a href="/p{i}.html">{i}</a><img src="/i{i}.jpg">' for i in range(3000))
    found = extract(html, "http://site.test/")
    assert len(found.pages) == MAX_LINKS_PER_PAGE == len(found.images)
    assert found.truncated
    assert extract(html, "http://site.test/", max_links=10).pages[-1] == "http://site.test/p9.html"


def test_what_is_not_html_yields_nothing():
    for body in (b"", b"   ", b"\x00\x01binary", "plain text"):
        found = extract(body, "http://site.test/")
        assert found.pages == [] and found.images == []


def test_the_tags_looked_at_per_page_are_capped_too():
    html = '<a href="mailto:x@y">m</a>' * 50 + '<img src="/late.jpg">'
    assert extract(html, "http://site.test/", max_tags=20).images == []
    assert len(extract(html, "http://site.test/").images) == 1
