"""The package's shape (docs/architecture.md): no import cycles, and arrows that run
one way: faces (pages/, moodlab/cli) -> area services -> core."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "moodlab"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


# A lazy reference, imported when first used (the table of job kinds, the CLI's areas).
REFERENCE = re.compile(r"(moodlab(?:\.\w+)+):\w+")


def imports_of(path: Path) -> set[str]:
    """Every moodlab module ``path`` imports, at module level or inside a function,
    or names in a ``"moodlab.module:name"`` reference that it imports on use."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if match := REFERENCE.fullmatch(node.value):
                found.add(match.group(1))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return {name for name in found if name in MODULES}


GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def find_cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(GRAPH):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles_at_module_level_or_inside_functions():
    cycle = find_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_graph_sees_imports_inside_functions():
    # The check above is only worth something if it reads lazy imports too.
    assert "moodlab.jobs.worker" in GRAPH["moodlab.cli.common"]
    # ... and the references imported on use: the job kinds' handlers, the CLI's areas.
    assert "moodlab.training.runs" in GRAPH["moodlab.job_kinds"]
    assert "moodlab.cli.images" in GRAPH["moodlab.cli.main"]


def test_only_the_cli_imports_the_cli():
    offenders = [
        name
        for name, targets in GRAPH.items()
        if not name.startswith("moodlab.cli")
        and name != "moodlab.__main__"
        and any(t.startswith("moodlab.cli") for t in targets)
    ]
    assert not offenders, f"these import the command line face: {offenders}"


def test_core_imports_no_area():
    core = {name: targets for name, targets in GRAPH.items() if name.startswith("moodlab.core")}
    offenders = {
        name: sorted(t for t in targets if not t.startswith("moodlab.core") and t != "moodlab")
        for name, targets in core.items()
    }
    assert not any(offenders.values()), f"core imports an area: {offenders}"


def test_only_ui_helpers_import_streamlit():
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("moodlab.ui"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(name)
    assert not offenders, f"Streamlit outside moodlab/ui: {sorted(set(offenders))}"


# Parameters that carry the lab's context; every function that takes one says its type
# (Session, Actor, Settings, Database), so mypy checks what services are handed.
TYPED_PARAMETERS = {"session", "actor", "settings", "database"}


def test_service_parameters_are_typed():
    untyped = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            arguments = node.args
            params = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            untyped += [
                f"{name}:{node.lineno} {node.name}({param.arg})"
                for param in params
                if param.arg in TYPED_PARAMETERS and param.annotation is None
            ]
    assert not untyped, "parameters without a type: " + ", ".join(untyped)
