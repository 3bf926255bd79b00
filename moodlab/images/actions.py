"""The lead's image actions, one start service each, called by the page and the CLI alike.

Each takes its params dataclass (the only home of the defaults and checks), queues the
job and returns it; the CLI then runs it here (``moodlab.jobs.worker.run_here``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.models import Job
from moodlab.images.crawl import CrawlParams
from moodlab.images.importer import ImportParams
from moodlab.images.openverse import OpenverseParams
from moodlab.jobs.queue import enqueue


def start_crawl(*, session: Session, actor: Actor, settings: Settings, params: CrawlParams) -> Job:
    """Queue a crawl of ``params.seeds``; refused (nothing queued) on a bad seed or limit."""
    return enqueue(session=session, actor=actor, settings=settings, params=params)


def start_import(
    *, session: Session, actor: Actor, settings: Settings, params: ImportParams
) -> Job:
    """Queue an import of a folder or .zip on this machine."""
    return enqueue(session=session, actor=actor, settings=settings, params=params)


def start_openverse(
    *, session: Session, actor: Actor, settings: Settings, params: OpenverseParams
) -> Job:
    """Queue an Openverse search; refused with a clear message when sourcing is off."""
    return enqueue(session=session, actor=actor, settings=settings, params=params)
