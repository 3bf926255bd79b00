"""robots.txt: what one host lets moodlab fetch (RFC 9309, parsed by Protego).

Python's ``urllib.robotparser`` ignores RFC 9309's wildcards (``*``) and end anchors
(``$``), and takes the first matching rule where the RFC takes the most specific one:
``Disallow: /*.jpg$`` let every picture through. Protego (Scrapy's parser) implements
the RFC: the longest matching rule wins, and Allow wins a tie.

A robots.txt that cannot be read counts as RFC 9309 says (section 2.3.1): a 4xx
answer means there is none (everything allowed); a 5xx answer, or none at all (a
timeout, a refused connection, a redirect loop, one too large), means "do not crawl".
"""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

from moodlab.images.fetch import Fetched

# The product token robots.txt groups are matched with (RFC 9309, section 2.2.1). The
# whole User-Agent would also match a group named after a word of its comment, such as
# "User-agent: crawler".
ROBOTS_NAME = "moodlab"
# The most of a robots.txt read; larger is refused as unreadable.
MAX_ROBOTS_BYTES = 500_000


@dataclass(frozen=True)
class Robots:
    """One host's rules for moodlab."""

    rules: Protego | None = None  # None: no robots.txt, everything allowed
    unreachable: bool = False  # it could not be read: nothing allowed

    @classmethod
    def of_response(cls, fetched: Fetched | None) -> Robots:
        """The rules of a fetched robots.txt (``None``: it could not be fetched)."""
        if fetched is None or fetched.status >= 500:
            return cls(unreachable=True)
        if fetched.status >= 400:
            return cls()
        return cls(Protego.parse(fetched.body.decode("utf-8", errors="replace")))

    def allows(self, url: str) -> bool:
        if self.unreachable:
            return False
        return self.rules is None or self.rules.can_fetch(url, ROBOTS_NAME)

    def crawl_delay(self) -> float | None:
        """The Crawl-delay asked of moodlab, in seconds, if any."""
        return None if self.rules is None else self.rules.crawl_delay(ROBOTS_NAME)
