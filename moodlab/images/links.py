"""What a crawled HTML page offers: links to follow and images to fetch."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class FoundImage:
    url: str
    alt: str | None


@dataclass
class PageLinks:
    title: str | None = None
    pages: list[str] = field(default_factory=list)
    images: list[FoundImage] = field(default_factory=list)


def absolute(base: str, href: str | None) -> str | None:
    """An http(s) URL without its fragment, or None for mailto:, javascript:, data: and such."""
    if not href:
        return None
    url = urldefrag(urljoin(base, href.strip())).url
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


def _attr(tag: Tag, name: str) -> str | None:
    """An attribute as text; bs4 gives multi-valued ones (``class``, ``rel``) as lists."""
    value = tag.get(name)
    if value is None or isinstance(value, str):
        return value
    return " ".join(value)


def looks_like_image(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(IMAGE_EXTENSIONS)


def extract(html: bytes | str, base_url: str) -> PageLinks:
    soup = BeautifulSoup(html, "html.parser")
    found = PageLinks(title=soup.title.get_text(strip=True) if soup.title else None)
    seen: set[str] = set()

    def add_image(href: str | None, alt: str | None) -> None:
        url = absolute(base_url, href)
        if url and url not in seen:
            seen.add(url)
            found.images.append(FoundImage(url, alt.strip() if alt else None))

    for img in soup.find_all("img"):
        picture = img.find_parent("picture")
        if picture is not None and picture.find("source", srcset=True):
            continue  # the picture's sources are the real candidates (below)
        srcset = _attr(img, "srcset")
        add_image(largest_in_srcset(srcset) if srcset else _attr(img, "src"), _attr(img, "alt"))
    for source in soup.select("picture source[srcset]"):
        picture = source.find_parent("picture")
        picture_img = picture.find("img") if picture is not None else None
        add_image(
            largest_in_srcset(_attr(source, "srcset") or ""),
            _attr(picture_img, "alt") if picture_img is not None else None,
        )
    for meta in soup.find_all("meta", attrs={"property": "og:image"}):
        add_image(_attr(meta, "content"), None)
    for anchor in soup.find_all("a", href=True):
        url = absolute(base_url, _attr(anchor, "href"))
        if url is None:
            continue
        if looks_like_image(url):
            add_image(url, anchor.get_text(strip=True) or None)
        elif url not in seen:
            seen.add(url)
            found.pages.append(url)
    return found
