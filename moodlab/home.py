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
    Track,
    TrackStatus,
    TrackVote,
    TrainedModel,
    User,
)
from moodlab.core.text import plural
from moodlab.jobs import queue as jobs
from moodlab.votes import annotation
from moodlab.votes.arrays import VersionCache, votes_version
from moodlab.votes.counts import AnswerCounts, answer_counts


@dataclass(frozen=True)
class NextStep:
    text: str
    page: str | None = None  # the key of the page where it is done (moodlab.ui.navigation)


@dataclass
class Overview:
    leads: int
    annotators: int
    images: int
    votes: int  # moods given; skips apart (moodlab.votes.counts)
    votes_per_mood: dict[str, int]
    my_votes: int
    images_waiting_for_me: int
    jobs_running: int
    jobs_queued: int
    workers_alive: int
    snapshots: int = 0
    models: int = 0
    active_model: bool = False
    tracks: int = 0
    tracks_accepted: int = 0
    tracks_waiting_for_me: int = 0
    images_pending: int = 0  # images still waiting for answers (early stop aside)
    skips: int = 0  # answers that give no mood
    my_skips: int = 0
    model_score: float | None = None  # the model videos use: test accuracy, else CV mean
    model_id: int | None = None
    # the lead's view only: each active annotator's (and lead's) images left to answer
    images_left_by_person: dict[str, int] = field(default_factory=dict)
    next_steps: list[NextStep] = field(default_factory=list)


def lab_overview(*, session: Session, settings: Settings, actor: Actor) -> Overview:
    def count(query: Select[int]) -> int:
        return session.scalar(query) or 0

    def active_users(role: Role) -> int:
        return count(select(func.count()).select_from(User).where(User.role == role, User.active))

    def jobs_in(status: JobStatus) -> int:
        return count(select(func.count()).select_from(Job).where(Job.status == status))

    figures = _vote_figures(session, settings, actor)
    overview = Overview(
        leads=active_users(Role.LEAD),
        annotators=active_users(Role.ANNOTATOR),
        images=figures.images,
        votes=figures.everyone.votes,
        skips=figures.everyone.skips,
        votes_per_mood=dict(figures.votes_per_mood),
        my_votes=figures.mine.votes,
        my_skips=figures.mine.skips,
        images_waiting_for_me=figures.my_left,
        jobs_running=jobs_in(JobStatus.RUNNING),
        jobs_queued=jobs_in(JobStatus.QUEUED),
        workers_alive=len(
            jobs.live_workers(session=session, within=timedelta(seconds=settings.job_stale_seconds))
        ),
        snapshots=count(select(func.count()).select_from(Snapshot)),
        models=count(select(func.count()).select_from(TrainedModel)),
        active_model=bool(count(select(func.count()).where(TrainedModel.active))),
        tracks=count(select(func.count()).select_from(Track)),
        tracks_accepted=count(
            select(func.count()).select_from(Track).where(Track.status == TrackStatus.ACCEPTED)
        ),
        tracks_waiting_for_me=_tracks_waiting(session, actor),
        images_pending=figures.images_pending,
    )
    if actor.is_lead:
        overview.images_left_by_person = dict(figures.images_left_by_person)
    model = _model_for_videos(session)
    if model is not None:
        overview.model_id = model.id
        overview.model_score = (
            model.test_accuracy if model.test_accuracy is not None else model.cv_mean
        )
    overview.next_steps = _next_steps(overview, settings, actor)
    return overview


@dataclass(frozen=True)
class _VoteFigures:
    """The parts of the overview that only votes, images, snapshots and people change."""

    images: int
    votes_per_mood: dict[str, int]
    everyone: AnswerCounts
    mine: AnswerCounts
    my_left: int
    images_pending: int
    images_left_by_person: dict[str, int]  # the lead's view only


# Kept by what they are counted from, so that a rerun of Home with nothing new reads one
# version instead of counting every vote again (at 400,000 votes, 0.7 s a rerun;
# docs/benchmarks.md, "Lead pages"). A vote, an image, a snapshot (it freezes images),
# a closed round or a change of who annotates gives a new key.
_VOTE_FIGURES = VersionCache(size=16)


def _vote_figures(session: Session, settings: Settings, actor: Actor) -> _VoteFigures:
    people = _annotating_people(session)
    key = (
        votes_version(session),
        session.scalar(select(func.max(Snapshot.id))),
        tuple((p.id, p.name, p.role) for p in people),
        actor.id,
        actor.is_lead,
        settings.annotators_per_item,
        settings.train_quorum,
        settings.test_quorum,
    )
    return _VOTE_FIGURES.get(key, lambda: _count_vote_figures(session, settings, actor, people))


def _count_vote_figures(
    session: Session, settings: Settings, actor: Actor, people: list[User]
) -> _VoteFigures:
    per_mood = dict(
        session.execute(select(ImageVote.mood, func.count()).group_by(ImageVote.mood)).all()
    )
    return _VoteFigures(
        images=session.scalar(select(func.count()).select_from(Image)) or 0,
        votes_per_mood={name: per_mood.get(name, 0) for name in moods.names()},
        everyone=answer_counts(session),
        mine=(
            answer_counts(session, annotator_id=actor.id)
            if actor.id is not None
            else AnswerCounts(0, 0)
        ),
        my_left=annotation.images_left(session=session, annotator_id=actor.id, settings=settings),
        images_pending=_images_pending(session, settings),
        images_left_by_person=(_left_by_person(session, settings, people) if actor.is_lead else {}),
    )


def _annotating_people(session: Session) -> list[User]:
    """Every active user who annotates, annotators first, by name."""
    return list(
        session.scalars(
            select(User)
            .where(User.active, User.role.in_(annotation.ANNOTATING))
            .order_by(User.role != Role.ANNOTATOR, User.name)
        ).all()
    )


def _left_by_person(session: Session, settings: Settings, people: list[User]) -> dict[str, int]:
    return {
        person.name: annotation.images_left(
            session=session, annotator_id=person.id, settings=settings
        )
        for person in people
    }


def images_left_by_person(*, session: Session, settings: Settings) -> dict[str, int]:
    """{name: images left in their queue} for every active user who annotates, by name.

    What each one's Annotate page counts as left (moodlab.votes.annotation.progress):
    the lead sees who has work, and the demo's log-in page says it to visitors.
    """
    return _left_by_person(session, settings, _annotating_people(session))


def _tracks_waiting(session: Session, actor: Actor) -> int:
    """Tracks this user has not voted on (rejected ones aside), as Music votes serves them."""
    if actor.id is None:
        return 0
    mine = select(TrackVote.track_id).where(TrackVote.annotator_id == actor.id)
    query = (
        select(func.count())
        .select_from(Track)
        .where(Track.status != TrackStatus.REJECTED, Track.id.not_in(mine))
    )
    return session.scalar(query) or 0


def _images_pending(session: Session, settings: Settings) -> int:
    """Images still waiting for answers: an image whose answers so far decide its tier
    has all it needs (early stop, moodlab.votes.annotation.waiting), a frozen one too."""
    query = select(func.count()).select_from(Image).where(annotation.waiting(settings))
    return session.scalar(query) or 0


def _model_for_videos(session: Session) -> TrainedModel | None:
    """The active model, else the newest (videos use the newest until one is activated)."""
    query = select(TrainedModel).order_by(TrainedModel.active.desc(), TrainedModel.id.desc())
    return session.scalars(query.limit(1)).first()


# A model scoring under this many times chance (1 of 8 moods) has learnt next to nothing.
WEAK_MODEL_FACTOR = 2.0


def _next_steps(o: Overview, settings: Settings, actor: Actor) -> list[NextStep]:
    steps: list[NextStep] = []
    if o.jobs_queued and not o.workers_alive:
        text = (
            f"{plural(o.jobs_queued, 'job')} {'waits' if o.jobs_queued == 1 else 'wait'} but no"
            " worker is running: start one with `moodlab worker` (`make run` starts one for you)."
        )
        steps.append(NextStep(text, "jobs" if actor.is_lead else None))
    if actor.is_lead:
        missing = settings.annotators_per_item - o.annotators
        if missing > 0:
            text = (
                f"Add {missing} more {'annotator' if missing == 1 else 'annotators'}: each image"
                f" needs {settings.annotators_per_item} votes."
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
        chance = 1 / len(o.votes_per_mood or moods.names())
        if o.model_score is not None and o.model_score < WEAK_MODEL_FACTOR * chance:
            text = (
                f"Model #{o.model_id} scores {o.model_score:.2f}, near chance ({chance:.2f}):"
                " bring in more images, have them voted, and train again."
            )
            steps.append(NextStep(text, "crawl"))
        elif o.images and not o.images_pending and not o.model_score:
            text = "Every image has all its votes: bring in more images for the annotators."
            steps.append(NextStep(text, "crawl"))
        if o.tracks and not o.tracks_accepted:
            text = (
                "No music track is accepted yet, so videos get no fitting music: annotators"
                f" vote on tracks on Music votes ({plural(o.tracks, 'track')})."
            )
            steps.append(NextStep(text, "music_votes"))
    if o.images_waiting_for_me and actor.id is not None:  # a lead annotates too; not the CLI
        waiting = o.images_waiting_for_me
        text = f"{plural(waiting, 'image')} {'waits' if waiting == 1 else 'wait'} for your vote."
        steps.append(NextStep(text, "annotate"))
    if not actor.is_lead and o.tracks_waiting_for_me:
        waiting = o.tracks_waiting_for_me
        text = (
            f"{plural(waiting, 'music track')} {'waits' if waiting == 1 else 'wait'} for your"
            f" vote: videos only use tracks that {settings.train_quorum} annotators agree on."
        )
        steps.append(NextStep(text, "music_votes"))
    if not steps:
        steps.append(NextStep("Nothing waits for you right now."))
    return steps
