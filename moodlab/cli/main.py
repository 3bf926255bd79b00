"""The `moodlab` command: every service, scriptable (docs/cli.md).

Commands that report take --json and then print one JSON object on stdout; without it
they print the same report for a person. Bad input gets one line on stderr and a
non-zero exit, never a traceback. Each area's commands live in their own module,
their arguments beside their handler.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
from importlib import import_module
from typing import Any, NoReturn

from moodlab.cli.common import EXIT_ERROR, FailedWithReport, Parser, Report
from moodlab.core.config import documented_settings
from moodlab.core.errors import MoodlabError
from moodlab.core.quiet import quiet_tensorflow

# Each area's module and the commands its ``register`` adds. `moodlab CMD` imports only
# CMD's module, and that module imports its services when the command runs, so a
# command imports only what it needs (`moodlab crawl` never imports Keras, SciPy or
# scikit-learn); `moodlab --help` and an unknown command import every module.
# tests/cli/test_startup.py checks this table against what each module registers.
AREAS: dict[str, tuple[str, ...]] = {
    "moodlab.cli.server:register": ("migrate", "serve", "demo", "worker"),
    "moodlab.cli.home:register": ("status",),
    "moodlab.cli.images:register": ("crawl", "openverse", "import", "images"),
    "moodlab.cli.votes:register": ("votes", "guidelines", "agreement"),
    "moodlab.cli.datasets:register": ("dataset",),
    "moodlab.cli.review:register": ("review",),
    "moodlab.cli.pool:register": ("pool",),
    "moodlab.cli.training:register": ("train", "models"),
    "moodlab.cli.backbone:register": ("backbone",),
    "moodlab.cli.music:register": ("music",),
    "moodlab.cli.video:register": ("video",),
    "moodlab.cli.users:register": ("users",),
    "moodlab.cli.jobs:register": ("jobs",),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv``, with only the area its command belongs to."""
    settings_help = "\n".join(
        f"  {env} (default {default}{f'; {allowed}' if allowed else ''}): {doc}"
        for env, default, allowed, doc in documented_settings()
    )
    parser = Parser(
        prog="moodlab",
        description="moodlab: image-mood research lab (crawl, annotate, train, make videos).",
        epilog=f"settings, from the environment:\n{settings_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    wanted = next((arg for arg in argv or [] if not arg.startswith("-")), None)
    areas = [ref for ref, names in AREAS.items() if wanted in names] or list(AREAS)
    for ref in areas:
        module, _, name = ref.partition(":")
        getattr(import_module(module), name)(sub)
    return parser


def run() -> NoReturn:
    """The `moodlab` program (and `python -m moodlab`): ``main``, then exit.

    Before exiting, every object goes to the collector's permanent generation
    (``gc.freeze``), so interpreter shutdown does not collect them all again: after
    TensorFlow that took about 1 s, frozen about 0.1 s. Only here, where the process
    ends next (tests call ``main`` in their own process).
    """
    code = main()
    gc.freeze()
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow()  # before anything imports TensorFlow: worker, demo, inline training
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("moodlab").setLevel(logging.INFO)
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        report = args.handler(args)
    except FailedWithReport as exc:  # the promised report all the same (docs/cli.md)
        _print(exc.report, args)
        print(f"moodlab: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except MoodlabError as exc:
        print(f"moodlab: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("moodlab: interrupted", file=sys.stderr)
        return 130
    if report is not None:
        _print(report, args)
    return 0


def _print(report: Report, args: argparse.Namespace) -> None:
    if getattr(args, "json", False):
        print(json.dumps(report, default=str))
    else:
        print(render(report))


def render(report: Report) -> str:
    """A report for a person: one `key: value` line each, lists and mappings indented."""
    return "\n".join(_lines(report, indent=""))


def _lines(value: Any, indent: str) -> list[str]:
    lines: list[str] = []
    for key, item in value.items():
        if isinstance(item, dict) and item:
            lines.append(f"{indent}{key}:")
            lines.extend(_lines(item, indent + "  "))
        elif isinstance(item, list | tuple) and item:
            lines.append(f"{indent}{key}:")
            lines.extend(f"{indent}  {_row(row)}" for row in item)
        else:
            lines.append(f"{indent}{key}: {_scalar(item)}")
    return lines


def _row(row: Any) -> str:
    if isinstance(row, dict):
        return "  ".join(f"{k}={_scalar(v)}" for k, v in row.items())
    if isinstance(row, list | tuple):
        return " ".join(_scalar(v) for v in row)
    return _scalar(row)


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return "-" if value is None else str(value)
