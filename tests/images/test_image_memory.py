"""Checking an image costs at most the memory budget, whatever its mode.

The peak is measured in a child process (ru_maxrss: Pillow's pixels live outside
Python's allocator, where tracemalloc does not see them), from just before the
check, after the imports and a warm-up check have set the baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from moodlab.core.config import Settings
from moodlab.images.checks import Rejected, check_image
from tests import media
from tests.conftest import ROOT
from tests.images.test_image_formats import LIMITS, pillow_calls

BUDGET = Settings().max_image_memory  # the default, 500 MB
MB = 1_000_000

CHILD = """
import json, resource, sys, time
from moodlab.images.checks import Rejected, check_image
from tests import media

limits = {"max_pixels": 89_478_485, "min_side": 64, "max_bytes": 20_000_000,
          "max_memory": int(sys.argv[2])}
check_image(media.png(1), **limits)  # every lazy import done
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    checked = check_image(data, **limits)
    outcome = f"checked {checked.width}x{checked.height}"
except Rejected as rejected:
    outcome = f"{rejected.kind}: {rejected.reason}"
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (peak - before) * 1024 / 1e6, "seconds": seconds, "outcome": outcome}))
"""


def check_in_a_child(path, budget: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(budget)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.alone
@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (lambda: media.grey16_png(9400), "checked 9400x9400"),  # 88 million 16-bit pixels
        (lambda: media.rgba_png(6500), "checked 6500x6500"),  # 42 million translucent RGBA
    ],
    ids=["grey16-9400", "rgba-6500"],
)
def test_checking_a_huge_image_stays_within_the_memory_budget(tmp_path, made, expected):
    path = tmp_path / "huge.png"
    path.write_bytes(made())
    measured = check_in_a_child(path, BUDGET)
    assert measured["outcome"] == expected
    # Before: 3,711 MB and 27 s for the 16-bit PNG, 573 MB for the RGBA one; now 288 and 381.
    assert measured["grew_mb"] < BUDGET / MB, measured


def test_an_image_over_the_budget_is_refused_before_it_is_decoded():
    data = media.rgba_png(1000)  # 1 million RGBA pixels, kept whole for the display copy
    calls, raised = pillow_calls(lambda: check_image(data, **(LIMITS | {"max_memory": 20 * MB})))
    assert isinstance(raised, Rejected) and raised.kind == "memory"
    assert raised.reason == (
        "too costly to decode: 1000x1000 RGBA pixels need about 37 MB, over the memory budget"
        " of 20 MB (MOODLAB_MAX_IMAGE_MEMORY)"
    )
    assert "ImageFile.load" not in calls
    assert check_image(data, **(LIMITS | {"max_memory": 40 * MB})).width == 1000
