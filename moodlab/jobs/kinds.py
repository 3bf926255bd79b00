"""The table of job kinds: each kind's params type, the least role that may start it,
its handler and its result type, in one place. The worker, the Jobs page and the CLI
all read it.

The table names each kind's params, handler and result as ``"module:name"`` and
imports them when they are first used, so importing the table (every command, every
page) costs nothing: `moodlab crawl` never imports the training or music modules
(docs/architecture.md, "Jobs"). Each handler's module imports only
moodlab.jobs.context, never this table or the queue, so the arrows never loop back;
tests/test_layout.py reads these references as imports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any, cast

from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.jobs.context import JobContext, JobParams, JobResult

Handler = Callable[[JobContext, Any], dict[str, Any] | None]


@cache
def resolve(reference: str) -> Any:
    """The object a ``"package.module:name"`` reference names, imported on first use."""
    module, _, name = reference.partition(":")
    return getattr(import_module(module), name)


@dataclass(frozen=True)
class JobKind:
    """One kind. ``params_ref``, ``run_ref`` and ``result_ref`` are ``"module:name"``
    references (or the objects themselves, as tests give them); read them through
    ``params``, ``run`` and ``result``, which import on first use."""

    name: str
    title: str  # what a person calls it: "a web crawl job"
    role: Role  # the least role that may start it; the lead may start any
    params_ref: str | type[JobParams]
    run_ref: str | Handler
    result_ref: str | type[JobResult] = JobResult  # what pages read of job.result

    @property
    def params(self) -> type[JobParams]:
        ref = self.params_ref
        return cast(type[JobParams], resolve(ref) if isinstance(ref, str) else ref)

    @property
    def run(self) -> Handler:
        ref = self.run_ref
        return cast(Handler, resolve(ref) if isinstance(ref, str) else ref)

    @property
    def result(self) -> type[JobResult]:
        ref = self.result_ref
        return cast(type[JobResult], resolve(ref) if isinstance(ref, str) else ref)


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            "crawl",
            "web crawl",
            Role.LEAD,
            "moodlab.images.crawl:CrawlParams",
            "moodlab.images.crawl:run_crawl",
            "moodlab.images.report:IntakeResult",
        ),
        JobKind(
            "openverse",
            "Openverse search",
            Role.LEAD,
            "moodlab.images.openverse:OpenverseParams",
            "moodlab.images.openverse:run_openverse",
            "moodlab.images.report:IntakeResult",
        ),
        JobKind(
            "import",
            "image import",
            Role.LEAD,
            "moodlab.images.importer:ImportParams",
            "moodlab.images.importer:run_import",
            "moodlab.images.report:IntakeResult",
        ),
        JobKind(
            "dataset_export",
            "dataset export",
            Role.LEAD,
            "moodlab.datasets.export:ExportParams",
            "moodlab.datasets.export:run_export",
            "moodlab.datasets.export:ExportResult",
        ),
        JobKind(
            "train",
            "training run",
            Role.LEAD,
            "moodlab.training.runs:TrainParams",
            "moodlab.training.spread:run_training",
            "moodlab.training.runs:TrainResult",
        ),
        JobKind(
            "train_fold",
            "training fold",
            Role.LEAD,
            "moodlab.training.runs:FoldParams",
            "moodlab.training.runs:run_fold",
            "moodlab.training.runs:PartResult",
        ),
        JobKind(
            "train_final",
            "final model training",
            Role.LEAD,
            "moodlab.training.runs:FinalParams",
            "moodlab.training.runs:run_final",
            "moodlab.training.runs:PartResult",
        ),
        JobKind(
            "music_generate",
            "music library generation",
            Role.LEAD,
            "moodlab.music.library:GenerateParams",
            "moodlab.music.library:run_generate",
            "moodlab.music.library:GenerateResult",
        ),
        JobKind(
            "video",
            "video",
            Role.ANNOTATOR,
            "moodlab.video.request:VideoParams",
            "moodlab.video.service:run_video",
            "moodlab.video.result:VideoResult",
        ),
        JobKind(
            "worker_check",
            "worker check",
            Role.LEAD,
            "moodlab.jobs.check:CheckParams",
            "moodlab.jobs.check:run_check",
            "moodlab.jobs.check:CheckResult",
        ),
    )
}


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
