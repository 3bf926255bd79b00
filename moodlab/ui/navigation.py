"""Which pages exist and who sees them: the one place the page table lives."""

from __future__ import annotations

from dataclasses import dataclass

from moodlab.core.models import Role

EVERYONE = frozenset(Role)
LEAD = frozenset({Role.LEAD})


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to app.py
    title: str
    icon: str
    roles: frozenset[Role]

    @property
    def key(self) -> str:
        """What services call the page by (moodlab.home's next steps): its file's stem."""
        return self.path.removeprefix("pages/").removesuffix(".py")


PAGES = (
    PageSpec("pages/home.py", "Home", ":material/home:", EVERYONE),
    PageSpec("pages/annotate.py", "Annotate", ":material/label:", EVERYONE),
    PageSpec("pages/my_answers.py", "My answers", ":material/fact_check:", EVERYONE),
    PageSpec("pages/guidelines.py", "Guidelines", ":material/menu_book:", EVERYONE),
    PageSpec("pages/music_votes.py", "Music votes", ":material/music_note:", EVERYONE),
    PageSpec("pages/music.py", "Music", ":material/library_music:", EVERYONE),
    PageSpec("pages/crawl.py", "Crawl & import", ":material/travel_explore:", LEAD),
    PageSpec("pages/pool.py", "Pool", ":material/photo_library:", LEAD),
    PageSpec("pages/agreement.py", "Agreement", ":material/handshake:", LEAD),
    PageSpec("pages/datasets.py", "Datasets", ":material/dataset:", LEAD),
    PageSpec("pages/training.py", "Training", ":material/model_training:", LEAD),
    PageSpec("pages/video.py", "Video", ":material/movie:", EVERYONE),
    PageSpec("pages/jobs.py", "Jobs", ":material/work_history:", LEAD),
    PageSpec("pages/users.py", "Users", ":material/group:", LEAD),
)
SETUP_PAGE = PageSpec("pages/setup.py", "Set up moodlab", ":material/rocket_launch:", frozenset())
LOGIN_PAGE = PageSpec("pages/login.py", "Log in", ":material/login:", frozenset())


def pages_for(role: Role) -> list[PageSpec]:
    return [page for page in PAGES if role in page.roles]


def page(key: str) -> PageSpec:
    """The page named ``key`` ("jobs", "training", ...); a KeyError names an unknown key."""
    for spec in PAGES:
        if spec.key == key:
            return spec
    raise KeyError(f"no page {key!r}: expected one of {', '.join(s.key for s in PAGES)}")
