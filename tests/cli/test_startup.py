"""`moodlab CMD` imports only what CMD needs (docs/architecture.md, "Layering"): a crawl
never imports TensorFlow, SciPy or scikit-learn, and the table of job kinds imports
its handlers only when they run (tests/test_job_kinds.py checks the table itself)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import import_module

import pytest

from moodlab.cli.common import Parser
from moodlab.cli.main import AREAS
from tests import media
from tests.conftest import ROOT
from tests.fixture_site import Site

# What only training, videos, music and the lead's statistics need. A crawl computes
# pHashes with imagehash, which imports scipy.fftpack (and scipy.special) on first use:
# only SciPy's signal, statistics, image and sparse parts are barred from a crawl.
HEAVY = (
    *("tensorflow", "keras", "sklearn", "statsmodels", "pandas", "moviepy", "cleanlab"),
    *("scipy.signal", "scipy.stats", "scipy.ndimage", "scipy.sparse", "scipy.linalg"),
)

# Runs `moodlab ARGS` in this process, then prints which of them it imported.
PROBE = f"""
import json, sys
from moodlab.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help exits
    code = exc.code
found = {{top for m in sys.modules for top in {HEAVY!r} + ("scipy",)
         if m == top or m.startswith(top + ".")}}
print(json.dumps({{"code": code, "imported": sorted(found)}}))
"""


def imported_by(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_table_of_areas_names_what_each_module_registers():
    seen: list[str] = []
    for ref, names in AREAS.items():
        module, _, function = ref.partition(":")
        parser = Parser(prog="moodlab")
        sub = parser.add_subparsers(dest="command", parser_class=Parser)
        getattr(import_module(module), function)(sub)
        assert tuple(sub.choices) == names, f"{module} registers {list(sub.choices)}"
        seen += names
    assert len(seen) == len(set(seen)), "a command is in two areas"


@pytest.mark.parametrize("args", [["--help"], ["crawl", "--help"], ["video", "make", "--help"]])
def test_help_imports_nothing_heavy(args):
    assert imported_by(*args) == {"code": 0, "imported": []}  # not even scipy.fftpack


def test_a_crawl_command_imports_no_tensorflow_scipy_or_sklearn(env, tmp_path):
    assert imported_by("migrate")["code"] == 0
    site = Site().start()
    try:
        site.page("/", '<img src="/a.jpg"> <img src="/b.jpg">')
        site.add("/a.jpg", media.jpeg(4100), "image/jpeg")
        site.add("/b.jpg", media.jpeg(4101), "image/jpeg")
        report = imported_by("crawl", site.url("/"), "--allow-private", "--depth", "0", "--json")
    finally:
        site.stop()
    assert report["code"] == 0
    assert not set(report["imported"]) & set(HEAVY), report["imported"]
