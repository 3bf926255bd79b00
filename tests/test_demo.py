"""`moodlab demo`: a labelled workspace of photographs and generated data where every page
has content."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageFilter

from moodlab import demo, demo_data
from moodlab.core import moods
from moodlab.core.errors import MoodlabError
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


def test_the_demo_photographs_are_credited_small_and_cover_every_mood():
    import csv

    shipped = sorted(p.name for p in demo_data.PHOTOS.iterdir() if p.suffix != ".csv")
    with open(demo_data.ATTRIBUTION, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    photos = demo_data.photos()
    assert sorted(p.file for p in photos) == sorted(row["file"] for row in rows) == shipped
    for photo in photos:
        assert photo.package and photo.version and photo.original.startswith("/usr/share/")
        assert photo.author.strip() and photo.licence.strip(), photo
        with Image.open(photo.path, formats=["JPEG"]) as image:
            assert 240 <= max(image.size) <= 480, (photo.file, image.size)
    assert {p.mood for p in photos} == set(moods.names())  # the team's labels, every mood
    assert sum(p.path.stat().st_size for p in photos) < 2_000_000  # a small addition
    assert set(demo.SLIDESHOW) <= {p.file for p in photos}


def test_a_photograph_without_its_licence_is_refused(tmp_path, monkeypatch):
    import shutil

    folder = tmp_path / "photos"
    shutil.copytree(demo_data.PHOTOS, folder)
    attribution = folder / "ATTRIBUTION.csv"
    lines = attribution.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ","  # the first photograph's licence blanked
    attribution.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(demo_data, "PHOTOS", folder)
    monkeypatch.setattr(demo_data, "ATTRIBUTION", attribution)
    with pytest.raises(ValueError, match="line 2: .* has no author or licence"):
        demo_data.photos()


def test_generated_pictures_only_fill_what_photographs_leave(settings):
    pictures, _ = demo_data.kept_pictures(settings, per_mood=3, have={"Happy": 3, "Angry": 1})
    made = Counter(mood for mood, _ in pictures)
    assert made["Happy"] == 0 and made["Angry"] == 2 and made["Tired"] == 3


def test_simulated_annotators_err_mostly_towards_neighbours():
    rng = np.random.default_rng(0)
    votes = Counter(demo_data.simulated_vote("Happy", 0.7, 0.2, rng) for _ in range(4000))
    assert 0.55 < votes["Happy"] / 4000 < 0.7
    neighbours = sum(votes[m.name] for m in moods.neighbours("Happy"))
    others = sum(n for m, n in votes.items() if m not in ("Happy", None)) - neighbours
    assert neighbours > 3 * others
    assert 0 < votes[None] < 150  # a few skips


# The demo's deep CNN trains for its measured minimum of updates (400 a fold, 4 fits),
# and transfer computes its backbone features in the test's empty cache dir: on the
# loaded 2-core machine (load 20) the whole build passed 880 s.
@pytest.mark.timeout(1500)
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
        # What the test checks needs the runs, not what 800 updates a fold teach the
        # deep CNN: a twelfth of its default, for a third of the build's time.
        "--cnn-updates",
        "64",
        "--build-only",
        "--json",
        env=small,
        timeout=1480,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    for arch in ("plain", "deep"):
        assert f"training {arch} (3 folds, " in built.stderr
    assert built.stderr.count("about 64 updates per fold") == 2, built.stderr[-3000:]
    report = json.loads(built.stdout)
    assert report["images"] == 96 and len(report["models"]) == len(demo.ARCHITECTURES)
    assert report["video"].endswith(".mp4") and (root / "data" / "videos").is_dir()
    assert (root / "data" / demo.MARKER).exists()
    workspace = {**report["environment"], **small}

    # photographs, as credited, up to 12 a mood, the slideshow's held out; the rest generated
    images = json.loads(run_cli("images", "list", "--json", env=workspace).stdout)["images"]
    stored = {image["sha256"] for image in images}
    credited = {
        hashlib.sha256(p.path.read_bytes()).hexdigest(): p
        for p in demo_data.photos()
        if p.file not in demo.SLIDESHOW
    }
    used = [credited[sha] for sha in stored & set(credited)]
    assert len(used) == report["photos"] >= 30
    assert Counter(p.mood for p in used)["Peaceful"] == 12  # 14 photographs, 12 a mood
    assert not stored & {
        hashlib.sha256(p.path.read_bytes()).hexdigest()
        for p in demo_data.photos()
        if p.file in demo.SLIDESHOW
    }

    agreement = json.loads(run_cli("agreement", "--json", env=workspace).stdout)
    tiers = agreement["tiers"]
    assert tiers["train"] > 30 and tiers["test"] > 5 and tiers["pending"] > 0, tiers
    assert 0.2 < agreement["fleiss_kappa"] < 0.8  # annotators agree, but not perfectly
    models = json.loads(run_cli("models", "list", "--json", env=workspace).stdout)["models"]
    assert sorted(m["arch"] for m in models) == sorted(demo.ARCHITECTURES)
    active = [m for m in models if m["active"]]
    assert len(active) == 1
    assert active[0]["test_accuracy"] == max(m["test_accuracy"] for m in models)

    # every demo login has images left to answer (a quarter of 96 images left open: 24,
    # each annotator has answered 4 of them), and the lead's Home says so
    assert report["left_to_answer"] == {
        **{name: 20 for name in demo.ANNOTATORS},
        demo.LEAD: 24,
    }
    status = json.loads(run_cli("status", "--json", env=workspace).stdout)
    assert status["images_left_by_person"] == report["left_to_answer"]

    # every mood has an accepted track, so the video's music fits and it has no warning
    tracks = json.loads(run_cli("music", "list", "--json", env=workspace).stdout)["tracks"]
    accepted = {t["mood"] for t in tracks if t["status"] == "accepted"}
    assert accepted == set(moods.names()), tracks
    assert report["video_warnings"] == []

    again = run_program("demo", "--dir", str(root), "--build-only", "--json", env=small)
    assert again.returncode == 0 and "using the demo workspace" in again.stderr
    assert json.loads(again.stdout)["dir"] == str(root)


def test_a_bad_update_count_is_refused_before_the_demo_is_touched(env, tmp_path):
    marker = demo.Workspace(tmp_path / "demo").marker
    marker.parent.mkdir(parents=True)
    marker.write_text("a demo built earlier")
    result = run_program("demo", "--dir", str(tmp_path / "demo"), "--reset", "--cnn-updates", "0")
    assert result.returncode == 1
    assert "--cnn-updates 0 is not a number of updates" in result.stderr
    assert marker.exists()  # --reset did not run
    with pytest.raises(MoodlabError, match="--cnn-updates -3"):
        demo.build(tmp_path / "other", cnn_updates=-3)
    assert not (tmp_path / "other").exists()


def test_demo_never_touches_a_folder_that_is_not_a_demo(env, tmp_path):
    precious = tmp_path / "lab"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    for args in (["--reset"], []):
        result = run_program("demo", "--dir", str(precious), "--build-only", *args)
        assert result.returncode == 1, result.stderr
        assert str(precious) in result.stderr
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_the_app_says_it_is_a_demo_how_to_log_in_and_who_has_images_left(database, settings):
    from moodlab.core.models import Image, ImageVote
    from tests.test_pages import app, texts

    (settings.data_dir / demo.MARKER).parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / demo.MARKER).write_text("demo")
    add_user(database, demo.LEAD, Role.LEAD)
    people = [add_user(database, name, Role.ANNOTATOR) for name in demo.ANNOTATORS]
    with database.session() as session:
        images = [Image(sha256=f"{i:064x}", width=200, height=200) for i in range(2)]
        session.add_all(images)
        session.flush()
        session.add(ImageVote(image_id=images[0].id, annotator_id=people[0].id, mood="Happy"))
        images[0].response_count = 1
    shown = texts(app())
    assert "Demo workspace" in shown and demo.PASSWORD in shown
    assert f"**{demo.LEAD}** (2 images left)" in shown
    assert "**demo-ana** (1 image left)" in shown and "**demo-dana** (2 images left)" in shown


def test_backbone_features_are_kept_for_the_next_build_and_a_damaged_one_is_not_used(settings):
    from moodlab.core.storage import ContentStore
    from moodlab.training import features, lite0

    store = ContentStore(settings.data_dir)
    shas = [f"{i:064x}" for i in range(3)]
    rows = {}
    for n, sha in enumerate(shas[:2]):  # the third image has no features to keep
        rows[sha] = np.full(lite0.FEATURES, n + 0.5, dtype=features.DTYPE)
        path = features.feature_path(store, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rows[sha], allow_pickle=False)
    assert demo_data.keep_features(settings, shas) == 2
    assert demo_data.keep_features(settings, shas) == 0  # kept already

    for sha in shas[:2]:
        features.feature_path(store, sha).unlink()  # a new workspace: nothing in its data dir
    assert demo_data.restore_features(settings, shas) == 2
    for sha, row in rows.items():
        assert np.array_equal(features.load_one(store, sha), row)

    kept = sorted((settings.cache_dir / "demo-features").rglob("*.npy"))
    wrong = io.BytesIO()
    np.save(wrong, np.zeros(10, dtype=features.DTYPE), allow_pickle=False)
    _swap_kept(kept[0], wrong.getvalue())  # a record that matches: only the check can tell
    for sha in shas[:2]:
        features.feature_path(store, sha).unlink()
    assert demo_data.restore_features(settings, shas) == 1
