"""Kept backbone features: made by a job after imports, resumable, read by transfer runs."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
from sqlalchemy import select

from moodlab.core.models import Image, Job, JobStatus
from moodlab.core.storage import ContentStore
from moodlab.images.intake import display_path
from moodlab.training import backbone, features, lite0
from tests.conftest import ROOT, run_cli

PHOTOS = ROOT / "tests/data/backbone"


def shas_by_name(database) -> dict[str, str]:
    """The stored photographs' sha256 by file name (an image is stored by its bytes' hash)."""
    with database.session() as session:
        stored = set(session.scalars(select(Image.sha256)))
    by_name = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in PHOTOS.glob("*.png")}
    return {name: sha for name, sha in by_name.items() if sha in stored}


def test_new_images_get_their_features_from_a_job_that_resumes_where_it_stopped(
    env, settings, database, tmp_path, monkeypatch
):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    shutil.copy(PHOTOS / "brick.png", first)
    for name in ("chelsea.png", "coffee.png"):
        shutil.copy(PHOTOS / name, second)

    # Turned off (as in every other test), an import queues nothing.
    assert run_cli("import", str(first), "--json").returncode == 0
    with database.session() as session:
        assert not session.scalars(select(Job).where(Job.kind == "features")).all()

    monkeypatch.setenv("MOODLAB_FEATURES_ON_ARRIVAL", "1")
    assert run_cli("import", str(second), "--json").returncode == 0
    with database.session() as session:
        (queued,) = session.scalars(select(Job).where(Job.kind == "features")).all()
        assert queued.status == JobStatus.QUEUED
    assert run_cli("worker", "--once").returncode == 0
    with database.session() as session:
        done = session.get(Job, queued.id)
        assert done.status == JobStatus.SUCCEEDED, done.error
        assert done.result["computed"] == 3 and done.result["images_per_second"] > 0

    store = ContentStore(settings.data_dir)
    shas = shas_by_name(database)
    path = features.feature_path(store, shas["chelsea.png"])
    assert path.is_relative_to(settings.data_dir / "features_lite0_224")
    kept = np.load(path)
    assert kept.shape == (1280,) and kept.dtype == np.float16
    # They are the backbone's pooled features: its own ImageNet classifier on them
    # finds the cat and the espresso.
    state = lite0.state_dict()
    for name, classes in (("chelsea.png", {281, 282, 285}), ("coffee.png", {967})):
        row = features.load_one(store, shas[name]).astype(np.float32)
        logits = state["_fc.weight"] @ row + state["_fc.bias"]
        assert classes & set(np.argsort(-logits)[:5].tolist()), name
    fresh = features.extract(backbone.square_pixels(display_path(store, shas["coffee.png"]))[None])
    np.testing.assert_allclose(features.load_one(store, shas["coffee.png"]), fresh[0], atol=0.01)

    # A lost file and one cut short are made again; the kept one is skipped.
    kept_file = features.feature_path(store, shas["coffee.png"])
    kept_written = kept_file.stat().st_mtime_ns
    features.feature_path(store, shas["brick.png"]).unlink()
    path.write_bytes(path.read_bytes()[:100])
    again = run_cli("backbone", "features", "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["computed"], report["kept"], report["failed"]) == (2, 1, 0)
    assert features.load_one(store, shas["chelsea.png"]) is not None
    assert kept_file.stat().st_mtime_ns == kept_written
