"""Documentation is checked, not hoped for: every setting and command is in the README."""

from pathlib import Path

from moodlab.cli import build_parser
from moodlab.config import documented_settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme():
    missing = [env for env, _, _ in documented_settings() if f"`{env}`" not in README]
    assert not missing, f"README.md does not document {missing}"


def test_every_command_is_in_the_readme():
    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0].choices
    missing = []
    for name, sub in subparsers.items():
        nested = [a for a in sub._actions if hasattr(a, "choices") and isinstance(a.choices, dict)]
        verbs = list(nested[0].choices) if nested else [None]
        for verb in verbs:
            if f"moodlab {name}" not in README or (verb and verb not in README):
                missing.append(f"{name} {verb or ''}".strip())
    assert not missing, f"README.md does not show {missing}"
