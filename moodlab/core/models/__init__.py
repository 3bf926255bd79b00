"""The ORM: every table of moodlab, in SQLAlchemy 2's typed declarative style.

One module per area, each on the shared ``Base`` of ``base.py``. Every module is
imported here, so ``Base.metadata`` holds every table (Alembic's env and the drift test
read it) and the class registry resolves names between them; import the classes from
this package, ``from moodlab.core.models import Image``.

Schema changes go through a new Alembic migration in migrations/versions;
tests/core/test_migrations.py fails when these modules and the migrations drift apart.
"""

from moodlab.core.models.base import NAMING_CONVENTION, Base, UTCDateTime
from moodlab.core.models.datasets import ImageExclusion, Snapshot, SnapshotMember, TieBreak
from moodlab.core.models.guidelines import GuidelinesRead, GuidelinesVersion
from moodlab.core.models.images import Image
from moodlab.core.models.jobs import Job, JobLog, JobStatus, Worker
from moodlab.core.models.music import Track, TrackStatus, TrackVote
from moodlab.core.models.training import TrainedModel
from moodlab.core.models.users import LoginThrottle, Role, User, UserSession
from moodlab.core.models.video import Video
from moodlab.core.models.votes import (
    AnswerChange,
    ArchivedVote,
    ImageVote,
    QueueOrder,
    QueueScore,
    VoteRound,
)

__all__ = [
    "NAMING_CONVENTION",
    "AnswerChange",
    "ArchivedVote",
    "Base",
    "GuidelinesRead",
    "GuidelinesVersion",
    "Image",
    "ImageExclusion",
    "ImageVote",
    "Job",
    "JobLog",
    "JobStatus",
    "LoginThrottle",
    "QueueOrder",
    "QueueScore",
    "Role",
    "Snapshot",
    "SnapshotMember",
    "TieBreak",
    "TrackStatus",
    "Track",
    "TrackVote",
    "TrainedModel",
    "UTCDateTime",
    "User",
    "UserSession",
    "Video",
    "VoteRound",
    "Worker",
]
