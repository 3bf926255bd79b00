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


def _swap_kept(kept_file, content: bytes | None = None, *, link_to=None) -> None:
    """Put ``content`` (or a link to ``link_to``) where a kept file was, with a record that
    matches it: only a check of the content itself can tell."""
    import hashlib

    record_file = kept_file.with_suffix(".json")
    record = json.loads(record_file.read_text())
    kept_file.unlink()
    if link_to is not None:
        kept_file.symlink_to(link_to)
        content = link_to.read_bytes()
    else:
        kept_file.write_bytes(content)
    record |= {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    record_file.write_text(json.dumps(record))


@pytest.mark.parametrize(
    "swap",
    ["a PNG", "a JPEG of another size", "a link to another kept picture"],
)
def test_a_kept_picture_swapped_with_a_matching_record_is_made_again(
    settings, swap, caplog, tmp_path
):
    pictures, _ = demo_data.kept_pictures(settings, per_mood=1)
    kept = sorted((settings.cache_dir / "demo-pictures").rglob("*.jpg"))
    victim, other = kept[0], kept[1]
    other_bytes = other.read_bytes()
    if swap == "a PNG":
        png = io.BytesIO()
        Image.new("RGB", demo_data.PICTURE_SIZE, "red").save(png, "PNG")
        _swap_kept(victim, png.getvalue())
    elif swap == "a JPEG of another size":
        _swap_kept(victim, demo_data.picture("Happy", 0, size=(64, 48)))
    else:
        _swap_kept(victim, link_to=other)
    with caplog.at_level("WARNING", "moodlab.reuse"):
        again, reused = demo_data.kept_pictures(settings, per_mood=1)
    assert (again, reused) == (pictures, 7)  # the swapped one was made again, not used
    assert f"kept file {victim}" in caplog.text and "discarded, made again" in caplog.text
    assert victim.is_file() and not victim.is_symlink()  # kept again, as a file of its own
    assert other.read_bytes() == other_bytes  # what the link pointed to is untouched


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
