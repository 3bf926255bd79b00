"""The table of job kinds: each kind's params type, the least role that may start it,
and its handler, in one place. The worker, the Jobs page and the CLI all read it.

Each handler's module imports only moodlab.jobs.context, never this table or the
queue, so importing the table never loops back (docs/architecture.md, "Jobs").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.datasets import export
from moodlab.images import crawl, importer, openverse
from moodlab.images.intake import IntakeResult
from moodlab.jobs import check
from moodlab.jobs.context import JobContext, JobParams, JobResult
from moodlab.music import library
from moodlab.training import runs, spread
from moodlab.video import service as video
from moodlab.video.result import VideoResult

Handler = Callable[[JobContext, Any], dict[str, Any] | None]


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str  # what a person calls it: "a web crawl job"
    role: Role  # the least role that may start it; the lead may start any
    params: type[JobParams]
    run: Handler
    result: type[JobResult] = JobResult  # what pages read of job.result


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind("crawl", "web crawl", Role.LEAD, crawl.CrawlParams, crawl.run_crawl,
                IntakeResult),
        JobKind("openverse", "Openverse search", Role.LEAD, openverse.OpenverseParams,
                openverse.run_openverse, IntakeResult),
        JobKind("import", "image import", Role.LEAD, importer.ImportParams, importer.run_import,
                IntakeResult),
        JobKind("dataset_export", "dataset export", Role.LEAD, export.ExportParams,
                export.run_export, export.ExportResult),
        JobKind("train", "training run", Role.LEAD, runs.TrainParams, spread.run_training,
                runs.TrainResult),
        JobKind("train_fold", "training fold", Role.LEAD, runs.FoldParams, runs.run_fold,
                runs.PartResult),
        JobKind("train_final", "final model training", Role.LEAD, runs.FinalParams,
                runs.run_final, runs.PartResult),
        JobKind("music_generate", "music library generation", Role.LEAD,
                library.GenerateParams, library.run_generate, library.GenerateResult),
        JobKind("video", "video", Role.ANNOTATOR, video.VideoParams, video.run_video,
                VideoResult),
        JobKind("worker_check", "worker check", Role.LEAD, check.CheckParams, check.run_check,
                check.CheckResult),
    )
}  # fmt: skip


def kind(name: str, table: dict[str, JobKind] | None = None) -> JobKind:
    table = KINDS if table is None else table
    try:
        return table[name]
    except KeyError:
        raise MoodlabError(
            f"unknown job kind {name!r}: expected one of {', '.join(sorted(table))}"
        ) from None


def kind_of(params: JobParams) -> JobKind:
    """The kind whose params ``params`` are."""
    return kind(type(params).KIND)
