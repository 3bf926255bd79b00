"""The table of job kinds (moodlab/job_kinds.py): each kind names its params, handler and
result, and every params type in moodlab/ is in it."""

from __future__ import annotations

import ast

from moodlab.core.models import Role
from moodlab.job_kinds import KINDS
from moodlab.jobs.context import JobParams, JobResult
from tests.test_layout import MODULES


def test_every_kind_names_its_params_handler_and_result():
    for name, kind in KINDS.items():
        assert issubclass(kind.params, JobParams) and name == kind.name == kind.params.KIND
        assert kind.title == kind.params.TITLE and isinstance(kind.params.ROLE, Role)
        assert callable(kind.run)
        assert issubclass(kind.result, JobResult)


def declared_kinds() -> dict[str, str]:
    """Each ``KIND = "..."`` of a class in moodlab/: kind -> "module:Class"."""
    declared = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and [getattr(t, "id", None) for t in statement.targets] == ["KIND"]
                    and isinstance(statement.value, ast.Constant)
                ):
                    declared[statement.value.value] = f"{module}:{node.name}"
    return declared


def test_every_params_type_in_moodlab_is_a_kind_of_the_table():
    # enqueue reads no table: a params type missing here would queue jobs no worker runs.
    declared = declared_kinds()
    assert sorted(declared) == sorted(KINDS)
    assert {name: kind.params_ref for name, kind in KINDS.items()} == declared
