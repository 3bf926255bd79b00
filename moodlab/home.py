"""The lab at a glance, for the Home page and `moodlab status`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.models import (
    Image,
    ImageVote,
    Job,
    JobStatus,
    Role,
    Snapshot,
    TrainedModel,
    User,
)
from moodlab.jobs import queue as jobs
from moodlab.votes import annotation


@dataclass(frozen=True)
class NextStep:
    text: str
    page: str | None = None  # the key of the page where it is done (moodlab.ui.navigation)


@dataclass
class Overview:
    leads: int
    annotators: int
    images: int
    votes: int
    votes_per_mood: dict[str, int]
    my_votes: int
    images_waiting_for_me: int
    jobs_running: int
    jobs_queued: int
    workers_alive: int
    snapshots: int = 0
    models: int = 0
    active_model: bool = False
    next_steps: list[NextStep] = field(default_factory=list)


def lab_overview(*, session: Session, settings: Settings, actor: Actor) -> Overview:
    def count(query: Select[int]) -> int:
        return session.scalar(query) or 0

    def active_users(role: Role) -> int:
        return count(select(func.count()).select_from(User).where(User.role == role, User.active))

    def jobs_in(status: JobStatus) -> int:
        return count(select(func.count()).select_from(Job).where(Job.status == status))

    per_mood = dict(
        session.execute(select(ImageVote.mood, func.count()).group_by(ImageVote.mood)).all()
    )
    images = count(select(func.count()).select_from(Image))
    mine = annotation.progress(session=session, actor=actor, settings=settings)
    overview = Overview(
        leads=active_users(Role.LEAD),
        annotators=active_users(Role.ANNOTATOR),
        images=images,
        votes=count(select(func.count()).select_from(ImageVote)),
        votes_per_mood={name: per_mood.get(name, 0) for name in moods.names()},
        my_votes=mine.total,
        images_waiting_for_me=mine.left,
        jobs_running=jobs_in(JobStatus.RUNNING),
        jobs_queued=jobs_in(JobStatus.QUEUED),
        workers_alive=len(
            jobs.live_workers(session=session, within=timedelta(seconds=settings.job_stale_seconds))
        ),
        snapshots=count(select(func.count()).select_from(Snapshot)),
        models=count(select(func.count()).select_from(TrainedModel)),
        active_model=bool(count(select(func.count()).where(TrainedModel.active))),
    )
    overview.next_steps = _next_steps(overview, settings, actor)
    return overview


def _next_steps(o: Overview, settings: Settings, actor: Actor) -> list[NextStep]:
    steps: list[NextStep] = []
    if o.jobs_queued and not o.workers_alive:
        text = (
            f"{o.jobs_queued} job(s) wait but no worker is running: start one with"
            " `moodlab worker` (`make run` starts one for you)."
        )
        steps.append(NextStep(text, "jobs" if actor.is_lead else None))
    if actor.is_lead:
        missing = settings.annotators_per_item - o.annotators
        if missing > 0:
            text = (
                f"Add {missing} more annotator(s): each image needs"
                f" {settings.annotators_per_item} votes."
            )
            steps.append(NextStep(text, "users"))
        if o.images == 0:
            steps.append(NextStep("Bring in candidate images: the pool is empty.", "crawl"))
        elif o.votes and not o.snapshots:
            text = "Freeze a dataset snapshot from the votes so far (and break ties there)."
            steps.append(NextStep(text, "datasets"))
        elif o.snapshots and not o.models:
            steps.append(NextStep("Train a model on a snapshot.", "training"))
        elif o.models and not o.active_model:
            text = "Activate a model for videos (the newest is used until you do)."
            steps.append(NextStep(text, "training"))
    elif o.images_waiting_for_me:
        steps.append(
            NextStep(f"{o.images_waiting_for_me} image(s) wait for your vote.", "annotate")
        )
    if not steps:
        steps.append(NextStep("Nothing waits for you right now."))
    return steps
