"""What a crawled HTML page offers: links to follow and images to fetch.

Parsed with lxml (libxml2's HTML parser, linear in the page): html.parser's
end-tag handling is quadratic on pages with very many tags (a 100,000-link page
took 347 s). A page yields at most MAX_LINKS_PER_PAGE links and as many images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
from lxml import etree

from moodlab.images.formats import IMAGE_EXTENSIONS

# Links and images taken from one page at most, each (the rest of the page is ignored):
# a page with a million links must not fill the frontier or the memory.
MAX_LINKS_PER_PAGE = 2000
# Tags (a, img, source, meta) looked at per page at most: resolving a URL is the slow part
# (urljoin, about 50 us), so a page of 100,000 links that are all mailto: or duplicates
# stops here too. Past either cap the page is marked truncated.
MAX_TAGS_PER_PAGE = 5 * MAX_LINKS_PER_PAGE


@dataclass(frozen=True)
class FoundImage:
    url: str
    alt: str | None


@dataclass
class PageLinks:
    title: str | None = None
    pages: list[str] = field(default_factory=list)
    images: list[FoundImage] = field(default_factory=list)
    truncated: bool = False  # the page had more than the cap of links or images


def absolute(base: str, href: str | None) -> str | None:
    """An http(s) URL without its fragment, or None for mailto:, javascript:, data: and such."""
    if not href:
        return None
    try:
        url = urldefrag(urljoin(base, href.strip())).url
    except ValueError:  # an invalid IPv6 literal, say
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None


def largest_in_srcset(srcset: str) -> str | None:
    """The candidate with the largest width (``800w``) or density (``2x``) descriptor."""
    best, best_size = None, -1.0
    for candidate in srcset.split(","):
        parts = candidate.strip().split()
        if not parts:
            continue
        size = 1.0
        if len(parts) > 1 and re.fullmatch(r"\d+(\.\d+)?[wx]", parts[1]):
            size = float(parts[1][:-1])
        if size > best_size:
            best, best_size = parts[0], size
    return best


def looks_like_image(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(IMAGE_EXTENSIONS)


def _text(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _parse(html: bytes | str) -> etree._Element | None:
    if isinstance(html, str):
        html = html.encode("utf-8")
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def _image_href(href: str) -> bool:
    """Whether an href's path names an image file, without resolving it (cheap)."""
    path = href.split("#", 1)[0].split("?", 1)[0].rstrip()
    return path.lower().endswith(IMAGE_EXTENSIONS)


def extract(
    html: bytes | str,
    base_url: str,
    *,
    max_links: int = MAX_LINKS_PER_PAGE,
    max_tags: int = MAX_TAGS_PER_PAGE,
) -> PageLinks:
    root = _parse(html)
    found = PageLinks()
    if root is None:
        return found
    title = root.find(".//title")
    found.title = (_text(title) or None) if title is not None else None
    seen: set[str] = set()

    def add_image(href: str | None, alt: str | None) -> None:
        if len(found.images) >= max_links:
            found.truncated = True
            return
        url = absolute(base_url, href)
        if url and url not in seen:
            seen.add(url)
            found.images.append(FoundImage(url, alt.strip() if alt and alt.strip() else None))

    # One pass in document order, as a browser meets them.
    for examined, element in enumerate(root.iter("img", "source", "meta", "a")):
        full = len(found.pages) >= max_links and len(found.images) >= max_links
        if full or examined >= max_tags:
            found.truncated = True
            break
        tag = element.tag
        if tag == "img":
            picture = next((p for p in element.iterancestors("picture")), None)
            if picture is not None and picture.find(".//source[@srcset]") is not None:
                continue  # the picture's sources are the real candidates
            srcset = element.get("srcset")
            add_image(
                largest_in_srcset(srcset) if srcset else element.get("src"), element.get("alt")
            )
        elif tag == "source":
            picture = next((p for p in element.iterancestors("picture")), None)
            if picture is None or not element.get("srcset"):
                continue
            picture_img = picture.find(".//img")
            add_image(
                largest_in_srcset(element.get("srcset") or ""),
                picture_img.get("alt") if picture_img is not None else None,
            )
        elif tag == "meta":
            if element.get("property") == "og:image":
                add_image(element.get("content"), None)
        else:
            href = element.get("href")
            if not href:
                continue
            if _image_href(href):
                add_image(href, _text(element) or None)
                continue
            if len(found.pages) >= max_links:
                found.truncated = True
                continue
            url = absolute(base_url, href)
            if url is None:
                continue
            if looks_like_image(url):
                add_image(url, _text(element) or None)
            elif url not in seen:
                seen.add(url)
                found.pages.append(url)
    return found
