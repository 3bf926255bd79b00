"""The package's shape (docs/architecture.md, "Layering"): no import cycles, and arrows
that run one way, down the order of the areas: faces (moodlab/ui, moodlab/cli) ->
the lab's assembly (demo, home, the table of job kinds) -> area services -> jobs -> core."""

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


# The areas of moodlab/ (its folders and top-level modules) by level, lowest first. An
# area imports only areas of a lower level, never one of its own level or a higher one,
# at module level, inside a function or by a "module:name" reference alike
# (docs/architecture.md, "Layering", draws this table). "__init__" is moodlab/__init__.py
# (the version), which every import of moodlab runs first, so it is lowest and imports
# nothing.
ORDER: list[set[str]] = [
    {"__init__"},
    {"core"},
    {"jobs"},  # the mechanism: queue, worker, JobContext; it names no area's work
    {"images", "votes"},
    {"datasets"},
    {"training"},
    {"music"},
    {"video"},  # a video's soundtrack comes from the music library
    {"home", "demo_data", "job_kinds"},  # job_kinds names every area's handlers
    {"demo"},  # the demo workspace builds on all of the lab, its generated data too
    {"ui", "cli"},  # the faces
    {"__main__"},
]
LEVEL = {area: level for level, areas in enumerate(ORDER) for area in areas}


def area(module: str) -> str:
    """``moodlab.images.crawl`` -> ``images``; ``moodlab`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def against_the_order(graph: dict[str, set[str]]) -> list[str]:
    """Each import from an area to one not below it, as "module -> module (area -> area)"."""
    return [
        f"{source} -> {target} ({area(source)} -> {area(target)})"
        for source, targets in sorted(graph.items())
        for target in sorted(targets)
        if area(source) != area(target) and LEVEL[area(target)] >= LEVEL[area(source)]
    ]


def test_every_area_has_its_place_in_the_order():
    areas = {area(name) for name in MODULES}
    assert areas - set(LEVEL) == set(), "give these areas a level in ORDER"
    assert set(LEVEL) - areas == set(), "ORDER names areas moodlab/ no longer has"


def test_imports_run_down_the_order_of_the_areas():
    offenders = against_the_order(GRAPH)
    assert not offenders, "imports against the order of the areas:\n" + "\n".join(offenders)


def test_the_order_check_finds_imports_up_or_across():
    graph = {
        "moodlab.jobs.worker": {"moodlab.images.derived", "moodlab.core.db"},  # up, down
        "moodlab.images.uploads": {"moodlab.video.request", "moodlab.images.links"},
        "moodlab.music.library": {"moodlab.video.paths"},  # up one level
        "moodlab.images.crawl": {"moodlab.votes.annotation"},  # across one level
        "moodlab.core.config": {"moodlab"},  # down to the package's own __init__
        "moodlab": {"moodlab.core.config"},  # which imports nothing
        "moodlab.ui.session": {"moodlab.cli.main"},  # across the faces
        "moodlab.cli.main": {"moodlab.ui.session", "moodlab.demo", "moodlab.job_kinds"},
    }
    assert against_the_order(graph) == [
        "moodlab -> moodlab.core.config (__init__ -> core)",
        "moodlab.cli.main -> moodlab.ui.session (cli -> ui)",
        "moodlab.images.crawl -> moodlab.votes.annotation (images -> votes)",
        "moodlab.images.uploads -> moodlab.video.request (images -> video)",
        "moodlab.jobs.worker -> moodlab.images.derived (jobs -> images)",
        "moodlab.music.library -> moodlab.video.paths (music -> video)",
        "moodlab.ui.session -> moodlab.cli.main (ui -> cli)",
    ]


def test_the_architecture_doc_draws_this_order():
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^ *\| (\d+) \| ([^|]+) \|", text, re.MULTILINE)
    drawn = {int(level): {name.strip(" `") for name in areas.split(",")} for level, areas in rows}
    assert drawn == dict(enumerate(ORDER))


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
