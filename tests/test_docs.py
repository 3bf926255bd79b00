"""Documentation is checked, not hoped for.

Every setting is in docs/configuration.md, every command and verb in docs/cli.md,
the front-page README stays small, every relative link leads somewhere, and every
repository path the docs, comments and docstrings name exists.
"""

import ast
import io
import re
import tokenize
from pathlib import Path
from urllib.parse import unquote

import pytest

from moodlab.cli.main import build_parser
from moodlab.core.config import documented_settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_LIMIT_BYTES = 10 * 1024

PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

FENCED_CODE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target); an optional "title" after the target is dropped.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:
URL = re.compile(r"[a-z][a-z0-9+.-]*://\S*", re.IGNORECASE)

# The folders whose files are the repository's own. The app's own folders (data/, db/,
# music/, cache/) hold what it writes, so `db/moodlab.sqlite` names no repository file.
SOURCE_FOLDERS = ("moodlab", "pages", "tests", "docs", "benchmarks", "migrations", ".ci")
# A repository path: a source folder and a slash at the start of a word, then path
# characters. It ends at the first other character (`moodlab/ui/session.py:current_actor`
# names moodlab/ui/session.py); one that runs into a glob or a placeholder
# (`tests/test_*.py`, `migrations/versions/<file>.py`) is no path: the possessive `*+`
# keeps the match from backing off to a shorter one that would look like a path.
REPO_PATH = re.compile(
    r"(?<![\w./-])(?:"
    + "|".join(re.escape(folder) for folder in SOURCE_FOLDERS)
    + r")/[\w./-]*+(?![*?<>{\[])"
)
CODE = [
    ROOT / "app.py",
    ROOT / "asgi.py",
    *(
        path
        for folder in ("moodlab", "pages", "tests", "benchmarks", "migrations")
        for path in sorted((ROOT / folder).rglob("*.py"))
    ),
]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _prose(text: str) -> str:
    """The text without code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCED_CODE.sub("", text))


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in FENCED_CODE.sub("", text).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            heading = match.group(1).replace("`", "").lower()
            anchors.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return anchors


def repository_paths(text: str) -> list[str]:
    """The repository paths ``text`` names (REPO_PATH), less a sentence's full stop."""
    return [match.group().rstrip(".") for match in REPO_PATH.finditer(URL.sub("", text))]


def missing_paths(text: str, root: Path = ROOT) -> list[str]:
    return [path for path in repository_paths(text) if not (root / path).exists()]


def comments_and_docstrings(source: str) -> str:
    """What a Python file says in prose: its comments and its docstrings."""
    lines = io.StringIO(source).readline
    parts = [t.string for t in tokenize.generate_tokens(lines) if t.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            parts.append(ast.get_docstring(node, clean=False) or "")
    return "\n".join(parts)


def _commands() -> list[tuple[str, str | None]]:
    """Every (command, verb) of the parser; verb is None for a command without verbs."""
    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0].choices
    found = []
    for name, sub in subparsers.items():
        nested = [a for a in sub._actions if isinstance(getattr(a, "choices", None), dict)]
        verbs = list(nested[0].choices) if nested else [None]
        found.extend((name, verb) for verb in verbs)
    return found


def test_every_setting_is_in_the_configuration_page():
    page = _read(DOCS / "configuration.md")
    missing = [env for env, _, _, _ in documented_settings() if f"`{env}`" not in page]
    assert not missing, f"docs/configuration.md does not document {missing}"


def test_the_configuration_table_gives_each_setting_the_range_the_code_allows():
    rows = {}
    for line in _read(DOCS / "configuration.md").splitlines():
        if line.startswith("| `MOODLAB_"):
            variable, _default, allowed, *_ = (cell.strip() for cell in line.split("|")[1:])
            rows[variable.strip("`")] = allowed
    wrong = {
        env: (rows.get(env), allowed)
        for env, _, allowed, _ in documented_settings()
        if rows.get(env) != allowed
    }
    assert not wrong, f"docs/configuration.md's 'allowed' column (docs, code): {wrong}"


def test_every_command_and_verb_is_in_the_cli_page():
    page = _read(DOCS / "cli.md")
    missing = []
    for name, verb in _commands():
        lines = [line for line in page.splitlines() if f"moodlab {name}" in line]
        if not lines or (
            verb and not any(re.search(rf"\b{re.escape(verb)}\b", ln) for ln in lines)
        ):
            missing.append(f"{name} {verb or ''}".strip())
    assert not missing, f"docs/cli.md does not show {missing}"


def test_the_readme_is_a_front_page_of_at_most_10_kb():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT_BYTES, (
        f"README.md is {size} bytes, over {README_LIMIT_BYTES}: move detail into docs/"
    )


def test_the_readme_links_into_docs():
    readme = _read(ROOT / "README.md")
    assert "docs/" in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_somewhere(page):
    broken = []
    for target in LINK.findall(_prose(_read(page))):
        if EXTERNAL.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        path = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not path.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and path.suffix == ".md" and fragment not in _anchors(_read(path)):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)} has broken links: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_a_page_names_exists(page):
    missing = missing_paths(_read(page))
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_every_repository_path_a_comment_or_docstring_names_exists():
    missing = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in CODE
        for name in missing_paths(comments_and_docstrings(_read(path)))
    ]
    assert not missing, f"comments and docstrings name paths that do not exist: {missing}"


def test_the_path_check_finds_a_stale_path_and_skips_what_is_no_path():
    text = """
    `tests/test_moods.py` checks the table; see moodlab/core/moods.py.
    (moodlab/ui/session.py:current_actor, tests/core/test_auth.py::test_x, `docs/nope.md#a`)
    Not paths: `tests/test_*.py`, `migrations/versions/<rev>.py`, `db/moodlab.sqlite`,
    https://example.org/tests/x.py, ../moodlab/none.py, mymoodlab/x.py, `moodlab.core.db`.
    """
    assert repository_paths(text) == [
        "tests/test_moods.py",
        "moodlab/core/moods.py",
        "moodlab/ui/session.py",
        "tests/core/test_auth.py",
        "docs/nope.md",
    ]
    assert missing_paths(text) == ["tests/test_moods.py", "docs/nope.md"]


def test_the_path_check_reads_comments_and_docstrings_only():
    source = '''"""Module: see tests/gone.py."""

PATH = "tests/not_prose.py"  # but this comment names tests/also_gone.py


def f():
    """tests/gone_too.py"""
'''
    assert missing_paths(comments_and_docstrings(source)) == [
        "tests/also_gone.py",
        "tests/gone.py",
        "tests/gone_too.py",
    ]
