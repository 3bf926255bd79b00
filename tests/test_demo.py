"""`moodlab demo`: a labelled workspace of generated data where every page has content."""

from __future__ import annotations

import io
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageFilter

from moodlab import demo, demo_data
from moodlab.core import moods
from moodlab.core.models import Role
from tests.conftest import add_user, run_cli, run_program


def edge_energy(data: bytes) -> float:
    gray = Image.open(io.BytesIO(data)).convert("L").filter(ImageFilter.FIND_EDGES)
    return float(np.asarray(gray, dtype=np.float32).mean())


def test_pictures_are_reproducible_and_busier_for_aroused_moods():
    assert demo_data.picture("Happy", 3) == demo_data.picture("Happy", 3)
    assert demo_data.picture("Happy", 3) != demo_data.picture("Happy", 4)
    busy = np.mean(
        [edge_energy(demo_data.picture(m, n)) for m in ("Dynamic", "Angry") for n in range(4)]
    )
    calm = np.mean(
        [edge_energy(demo_data.picture(m, n)) for m in ("Tired", "Depressed") for n in range(4)]
    )
    assert busy > 2 * calm, (busy, calm)


def test_pictures_made_before_are_kept_and_a_damaged_one_is_made_again(settings):
    pictures, reused = demo_data.kept_pictures(settings, per_mood=2)
    assert reused == 0 and len(pictures) == 16
    assert pictures["Happy", 1] == demo_data.picture("Happy", 1)
    again, reused = demo_data.kept_pictures(settings, per_mood=2)
    assert (again, reused) == (pictures, 16)

    kept = sorted((settings.cache_dir / "demo-pictures").rglob("*.jpg"))
    assert len(kept) == 16
    kept[0].write_bytes(kept[0].read_bytes()[:-100])  # cut short: not used, made again
    third, reused = demo_data.kept_pictures(settings, per_mood=2)
    assert (third, reused) == (pictures, 15)


def test_simulated_annotators_err_mostly_towards_neighbours():
    rng = np.random.default_rng(0)
    votes = Counter(demo_data.simulated_vote("Happy", 0.7, 0.2, rng) for _ in range(4000))
    assert 0.55 < votes["Happy"] / 4000 < 0.7
    neighbours = sum(votes[m.name] for m in moods.neighbours("Happy"))
    others = sum(n for m, n in votes.items() if m not in ("Happy", None)) - neighbours
    assert neighbours > 3 * others
    assert 0 < votes[None] < 150  # a few skips


# The demo's deep CNN trains for its measured minimum of updates (400 a fold, 4 fits):
# on a loaded 2-core machine the whole build can pass the default 300 s.
@pytest.mark.timeout(900)
def test_demo_builds_a_labelled_workspace_with_content_on_every_page(env, tmp_path):
    root = tmp_path / "demo"
    # no video folder from the test set-up: the demo's own settings must let its video through
    small = {"MOODLAB_MUSIC_TRACKS_PER_MOOD": "1", "MOODLAB_VIDEO_INPUT_DIRS": ""}
    built = run_program(
        "demo",
        "--dir",
        str(root),
        "--per-mood",
        "12",
        "--build-only",
        "--json",
        env=small,
        timeout=880,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    report = json.loads(built.stdout)
    assert report["images"] == 96 and len(report["models"]) == 2
    assert report["video"].endswith(".mp4") and (root / "data" / "videos").is_dir()
    assert (root / "data" / demo.MARKER).exists()
    workspace = {**report["environment"], **small}

    agreement = json.loads(run_cli("agreement", "--json", env=workspace).stdout)
    tiers = agreement["tiers"]
    assert tiers["train"] > 30 and tiers["test"] > 5 and tiers["pending"] > 0, tiers
    assert 0.2 < agreement["fleiss_kappa"] < 0.8  # annotators agree, but not perfectly
    models = json.loads(run_cli("models", "list", "--json", env=workspace).stdout)["models"]
    assert sorted(m["arch"] for m in models) == ["deep", "plain"]
    assert sum(m["active"] for m in models) == 1
    tracks = json.loads(run_cli("music", "list", "--json", env=workspace).stdout)["tracks"]
    assert Counter(t["status"] for t in tracks)["accepted"] > 0

    again = run_program("demo", "--dir", str(root), "--build-only", "--json", env=small)
    assert again.returncode == 0 and "using the demo workspace" in again.stderr
    assert json.loads(again.stdout)["dir"] == str(root)


def test_demo_never_touches_a_folder_that_is_not_a_demo(env, tmp_path):
    precious = tmp_path / "lab"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    for args in (["--reset"], []):
        result = run_program("demo", "--dir", str(precious), "--build-only", *args)
        assert result.returncode == 1, result.stderr
        assert str(precious) in result.stderr
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_the_app_says_it_is_a_demo_and_how_to_log_in(database, settings):
    from tests.test_pages import app, texts

    (settings.data_dir / demo.MARKER).parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / demo.MARKER).write_text("demo")
    add_user(database, demo.LEAD, Role.LEAD)
    at = app()
    assert "Demo workspace" in texts(at) and demo.PASSWORD in texts(at)
