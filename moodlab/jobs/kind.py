"""What a kind of job is: its params type, its handler and its result type.

The table of every kind (moodlab.job_kinds) names each kind's params, handler and
result as ``"module:name"`` and sits above the areas whose handlers it names; the
face that starts a worker hands the table to it. A ``JobKind`` imports what a
reference names when it is first used, so reading the table (every command, every
page) costs nothing: `moodlab crawl` never imports the training or music modules
(docs/architecture.md, "Jobs"). tests/test_layout.py reads these references as imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any, cast

from moodlab.core.errors import MoodlabError
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
    ``params``, ``run`` and ``result``, which import on first use. The params type
    says what a person calls the job and who may start it (``JobParams``)."""

    name: str
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

    @property
    def title(self) -> str:
        """What a person calls it: "web crawl" (its params' module is imported)."""
        return self.params.TITLE


def kind(name: str, table: Mapping[str, JobKind]) -> JobKind:
    """Kind ``name`` of ``table``; a MoodlabError naming the known ones if it has none."""
    try:
        return table[name]
    except KeyError:
        raise MoodlabError(
            f"unknown job kind {name!r}: expected one of {', '.join(sorted(table))}"
        ) from None
