"""The table of job kinds: each kind's params type, handler and result type, in one place.

The face that starts a worker (`moodlab worker`, a command's own job, the demo's
build) hands it this table, and the Jobs page and `moodlab jobs` read it. It names
handlers in every area (images, datasets, training, music, video), so it sits above
them all, beside home and demo; moodlab/jobs/ holds only the mechanism
(docs/architecture.md, "Layering").

The table names each kind's params, handler and result as ``"module:name"``,
imported when first used (moodlab.jobs.kind), so importing the table costs nothing:
`moodlab crawl` never imports the training or music modules. Each handler's module
imports only moodlab.jobs.context, never this table or the queue, so the arrows
never loop back; tests/test_layout.py reads these references as imports. What a
person calls each kind and the least role that may start it are its params type's
(``TITLE``, ``ROLE``), which ``enqueue`` reads.
"""

from __future__ import annotations

from typing import Any

from moodlab.jobs.context import JobContext
from moodlab.jobs.kind import JobKind


# The intake jobs, then the features job for the images they stored: images know
# nothing of training, so the table, which sits above both, joins them.
def run_crawl(ctx: JobContext, params: Any) -> dict[str, Any]:
    from moodlab.images.crawl import run_crawl as run

    return _then_features(ctx, run(ctx, params))


def run_openverse(ctx: JobContext, params: Any) -> dict[str, Any]:
    from moodlab.images.openverse import run_openverse as run

    return _then_features(ctx, run(ctx, params))


def run_import(ctx: JobContext, params: Any) -> dict[str, Any]:
    from moodlab.images.importer import run_import as run

    return _then_features(ctx, run(ctx, params))


def _then_features(ctx: JobContext, result: dict[str, Any]) -> dict[str, Any]:
    from moodlab.training.features import queue_after_intake

    queue_after_intake(ctx, result)
    return result


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            "crawl",
            "moodlab.images.crawl:CrawlParams",
            "moodlab.job_kinds:run_crawl",
            "moodlab.images.report:IntakeResult",
        ),
        JobKind(
            "openverse",
            "moodlab.images.openverse:OpenverseParams",
            "moodlab.job_kinds:run_openverse",
            "moodlab.images.report:IntakeResult",
        ),
        JobKind(
            "import",
            "moodlab.images.importer:ImportParams",
            "moodlab.job_kinds:run_import",
            "moodlab.images.report:IntakeResult",
        ),
        JobKind(
            "dataset_export",
            "moodlab.datasets.export:ExportParams",
            "moodlab.datasets.export:run_export",
            "moodlab.datasets.export:ExportResult",
        ),
        JobKind(
            "train",
            "moodlab.training.runs:TrainParams",
            "moodlab.training.spread:run_training",
            "moodlab.training.runs:TrainResult",
        ),
        JobKind(
            "train_fold",
            "moodlab.training.runs:FoldParams",
            "moodlab.training.runs:run_fold",
            "moodlab.training.runs:PartResult",
        ),
        JobKind(
            "train_final",
            "moodlab.training.runs:FinalParams",
            "moodlab.training.runs:run_final",
            "moodlab.training.runs:PartResult",
        ),
        JobKind(
            "queue_scores",
            "moodlab.training.queue_scores:QueueScoreParams",
            "moodlab.training.queue_scoring_job:run_queue_scores",
            "moodlab.training.queue_scores:QueueScoreResult",
        ),
        JobKind(
            "features",
            "moodlab.training.features:FeaturesParams",
            "moodlab.training.features:run_features",
            "moodlab.training.features:FeaturesResult",
        ),
        JobKind(
            "music_generate",
            "moodlab.music.library:GenerateParams",
            "moodlab.music.library:run_generate",
            "moodlab.music.library:GenerateResult",
        ),
        JobKind(
            "video",
            "moodlab.video.request:VideoParams",
            "moodlab.video.service:run_video",
            "moodlab.video.result:VideoResult",
        ),
        JobKind(
            "worker_check",
            "moodlab.jobs.check:CheckParams",
            "moodlab.jobs.check:run_check",
            "moodlab.jobs.check:CheckResult",
        ),
    )
}
