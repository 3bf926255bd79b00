"""Real Keras training on small generated data: CV, final model, registry, resume, cancel."""

from __future__ import annotations

import colorsys
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from moodlab.core import moods, predictions
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, JobStatus, Role, TrainedModel
from moodlab.datasets import snapshots as datasets
from moodlab.datasets.snapshots import Rules
from moodlab.images.intake import Intake, Provenance
from moodlab.jobs import queue as jobs
from moodlab.training import kept_models
from moodlab.training.runs import TrainParams, evaluate
from moodlab.votes import annotation
from tests import media
from tests.conftest import add_user, kept_workspace, log_of, run_cli, run_job

PER_MOOD = 12


def mood_picture(mood_index: int, n: int) -> bytes:
    """A picture whose mood shows in its colour and stripes: learnable, not trivial."""
    rng = np.random.default_rng(1000 * mood_index + n)
    r, g, b = colorsys.hsv_to_rgb(mood_index / 8, 0.75, 0.85)
    base = np.array([r, g, b]) * 255
    y, x = np.mgrid[0:96, 0:96]
    stripes = np.sin((x + y * (mood_index % 3)) * (0.15 + 0.05 * mood_index))[..., None] * 30
    pixels = base + stripes + rng.normal(0, 25, (96, 96, 3))
    return media.encode(PILImage.fromarray(np.clip(pixels, 0, 255).astype("uint8")), "PNG")


@pytest.fixture
def snapshot_id(database, settings, lead, tmp_path_factory):
    """A frozen snapshot of PER_MOOD pictures a mood, each with four agreeing votes: built
    once a test process, copied for the tests after (tests/conftest.py, kept_workspace)."""

    def build() -> int:
        people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
        # Each mood's pictures are one pattern with different noise: near-duplicates by
        # design (moodlab.images.similarity), which this test of training lets in.
        intake = Intake(replace(settings, near_duplicate_distance=0), database)
        for k, mood in enumerate(moods.names()):
            for n in range(PER_MOOD):
                image = intake.add_bytes(mood_picture(k, n), Provenance(source=f"{mood}{n}"))
                assert image is not None, intake.report.duplicate_sources[-1:]
                for person in people:
                    with database.session() as session:
                        annotation.answer(session=session, actor=person, image_id=image, mood=mood)
        with database.session() as session:
            rules = Rules(per_mood_cap=PER_MOOD - 3, seed=0)  # 3 per mood overflow into test
            return datasets.freeze(session=session, actor=lead, settings=settings, rules=rules).id

    return kept_workspace("training-lab", tmp_path_factory, database, settings, build)


def small(snapshot_id, **more) -> dict:
    return {
        "snapshot_id": snapshot_id,
        "arch": "deep",
        "folds": 3,
        "epochs": 1,
        "batch_size": 16,
        "image_size": 32,
        "seed": 1,
        **more,
    }


def test_a_small_run_learns_and_registers_a_model(database, settings, lead, snapshot_id):
    # The plain CNN: on 72 tiny pictures the deep one, with its dropout, needs far more
    # epochs than a test should take (20 epochs got it to 35% here, the plain one to 96%).
    params = small(snapshot_id, arch="plain", epochs=10)
    job = run_job(settings, database, lead, TrainParams(**params))
    assert job.status == JobStatus.SUCCEEDED, job.error
    report = job.result
    assert len(report["cv_scores"]) == 3
    assert report["cv_mean"] > 0.5, report  # chance is 0.125
    assert report["test_accuracy"] > 0.5
    assert report["adjacent_accuracy"] >= report["test_accuracy"]
    assert np.array(report["confusion_matrix"]).sum() == 3 * 8
    assert "fold 3 of 3" in log_of(database, job.id)
    # 72 images, 3 folds: 48 per fold in batches of 16 for 10 epochs; the final model 72.
    assert [f["updates"] for f in report["folds"]] == [30, 30, 30]
    assert report["updates_per_fold"] == 30 and report["final_updates"] == 50
    assert report["updates_warning"] is None  # the plain CNN's measured minimum is 24
    assert "after 30 updates" in log_of(database, job.id)
    # Ten epochs of 3 (folds) and 5 (final) updates: one Keras epoch each, ending at 10.
    assert [h["epoch"] for f in report["folds"] for h in f["history"]] == [10, 10, 10]
    with database.session() as session:
        model = session.get(TrainedModel, report["model_id"])
        assert model.report["updates"]["per_fold"] == [30, 30, 30]
        assert [h["epoch"] for h in model.report["final_history"]] == [10]
        # Every training image, once, in a file beside the model; the report names it.
        kept = model.report["out_of_fold"]
        assert kept == {"file": str(Path(model.path).with_suffix(".oof.npz")), "images": 72}
        out_of_fold = predictions.load(settings.data_dir, kept["file"])
        assert len(out_of_fold) == 72 and len(set(out_of_fold.images)) == 72
        assert out_of_fold.probs.shape == (72, 8)
        assert np.allclose(out_of_fold.probs.sum(axis=1), 1, atol=1e-2)
        assert "out_of_fold" not in model.report["folds"][0]
        # No job's result carries the rows: each fold's names its file, now joined.
        assert all(len(json.dumps(p.result)) < 5_000 for p in session.scalars(select(Job)))
        assert not list((settings.data_dir / "models" / "folds").glob("*.npz"))
        assert (settings.data_dir / model.path).exists()
        assert model.report["versions"]["tensorflow"]
        assert model.precision in ("float32", "mixed_bfloat16", "mixed_float16")
    assert not list((settings.data_dir / "models").glob(".*tmp*"))


def snapshot_with_cap(database, settings, lead, cap: int) -> int:
    with database.session() as session:
        rules = Rules(per_mood_cap=cap, seed=0)
        return datasets.freeze(session=session, actor=lead, settings=settings, rules=rules).id


def test_impossible_runs_are_refused_before_anything_is_queued(
    env, database, settings, lead, snapshot_id
):
    from moodlab.training.actions import start_training

    tiny = snapshot_with_cap(database, settings, lead, 1)
    refusals = {
        (tiny, 10): "the smallest mood, Happy, has 1 image: use 0 folds (no cross-validation),"
        " or freeze a snapshot with a larger per-mood cap",
        (tiny, 2): "2-fold cross-validation needs at least 2 training images of every mood",
        (snapshot_id, 10): "the smallest mood, Happy, has 9 images: use at most 9 folds",
        (snapshot_id, 1): "1 folds cannot cross-validate: use 2 or more folds, or 0 folds",
    }
    for (snapshot, folds), reason in refusals.items():
        params = TrainParams(**small(snapshot, folds=folds))
        with database.session() as session, pytest.raises(MoodlabError) as refused:
            start_training(session=session, actor=lead, settings=settings, params=params)
        assert reason in str(refused.value)
        assert "--" not in str(refused.value)  # page wording, not command-line flags
    with database.session() as session:
        assert not session.scalars(select(Job)).all()  # nothing was queued
    cli = run_cli("train", "--dataset", str(tiny), "--folds", "2", "--epochs", "1")
    assert cli.returncode == 1 and "the smallest mood, Happy, has 1 image" in cli.stderr
    assert "Traceback" not in cli.stderr
    with database.session() as session:
        params = TrainParams(**small(tiny, folds=0))  # one image per mood still trains
        assert start_training(session=session, actor=lead, settings=settings, params=params)


def test_updates_are_estimated_before_a_run_and_warned_below_the_measured_minimum():
    from moodlab.training.budget import MIN_UPDATES, updates, updates_warning
    from moodlab.training.runs import estimated_updates

    assert updates(100, 16, 3) == 7 * 3 and updates(0, 16, 3) == 0
    ten_folds = TrainParams(snapshot_id=1, folds=10, epochs=60, batch_size=64)
    assert estimated_updates(2000, ten_folds) == 29 * 60  # 1800 images per fold
    assert estimated_updates(2000, TrainParams(snapshot_id=1, folds=0, batch_size=64)) == 32 * 60
    assert updates_warning("deep", MIN_UPDATES["deep"]) is None
    warning = updates_warning("deep", 24)
    assert warning and "about 24 optimizer updates per fold" in warning
    assert f"at least {MIN_UPDATES['deep']}" in warning
    assert updates_warning("transfer", 1) is None  # not measured: no warning


def test_adjacent_accuracy_counts_circle_neighbours():
    truth = np.array([0, 0, 0, 0])  # Happy
    predicted = np.array([0, 1, 7, 4])  # Happy, Dynamic, Peaceful (neighbours), Withered
    metrics = evaluate(predicted, truth)
    assert metrics["accuracy"] == 0.25 and metrics["adjacent_accuracy"] == 0.75


def test_train_and_models_commands(env, database, settings, lead, snapshot_id):
    result = run_cli(
        "train",
        "--dataset",
        str(snapshot_id),
        "--folds",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--image-size",
        "32",
        "--json",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    promised = {
        "model_id",
        "arch",
        "params",
        "cv_scores",
        "cv_mean",
        "cv_std",
        "test_accuracy",
        "adjacent_accuracy",
        "confusion_matrix",
        "moods",
    }
    assert set(report) >= promised
    # No worker: the command ran every part itself, and the model has each fold's record.
    with database.session() as session:
        parts = session.scalars(select(Job).where(Job.parent_id.is_not(None))).all()
        model = session.get(TrainedModel, report["model_id"])
        assert sorted(p.kind for p in parts) == ["train_final", "train_fold", "train_fold"]
        assert all(p.status == JobStatus.SUCCEEDED and p.worker.startswith("cli:") for p in parts)
        assert [f["fold"] for f in model.report["folds"]] == [1, 2]
        assert model.report["out_of_fold"]["images"] == 72
    listed = json.loads(run_cli("models", "list", "--json").stdout)["models"]
    assert listed[0]["id"] == report["model_id"] and listed[0]["active"] is False
    force = [] if listed[0]["above_chance"] else ["--force"]  # one epoch may be near chance
    activated = json.loads(
        run_cli("models", "activate", str(report["model_id"]), "--json", *force).stdout
    )
    assert activated["active"] is True
    evaluated = json.loads(run_cli("models", "evaluate", str(report["model_id"]), "--json").stdout)
    assert evaluated["images"] == 3 * 8
    assert evaluated["accuracy"] == pytest.approx(report["test_accuracy"])
    bad = run_cli("train", "--dataset", "999", "--epochs", "1")
    assert bad.returncode == 1 and "no dataset snapshot with id 999" in bad.stderr


def test_training_page_starts_a_run_and_shows_the_report(database, settings, lead, snapshot_id):
    from tests.test_pages import app

    run_job(settings, database, lead, TrainParams(**small(snapshot_id, arch="plain", folds=2)))
    run_job(settings, database, lead, TrainParams(**small(snapshot_id, folds=2)))
    at = app(lead, timeout=60)
    at.switch_page("pages/training.py").run()
    assert not at.exception
    assert [m.label for m in at.metric] == [
        "Expected calibration error",
        "Labels disputed",  # the out-of-fold review
        "Test accuracy",
        "Macro-F1",
        "Adjacent accuracy",
    ]
    assert at.metric[1].value.endswith("of 72")  # every training image scored once
    assert at.multiselect[0].value == [1, 2]  # deep and plain side by side by default
    assert len(at.dataframe[1].value) == 2  # the comparison table
    # A one-epoch model may well be near chance: then the page asks first.
    for confirm in [c for c in at.checkbox if c.label == "Use it for videos anyway"]:
        confirm.check().run()
    next(b for b in at.button if b.label == "Activate for videos").click().run()
    with database.session() as session:
        assert [m.active for m in session.query(TrainedModel).order_by(TrainedModel.id)] == [
            False,
            True,
        ]
    # The form starts from settings fitted to the snapshot; the paper's are one choice away.
    next(r for r in at.radio if r.label == "Start from").set_value("paper").run()
    # 72 images, 10 folds: about 65 per fold, one batch of 64 and one of 1, 60 epochs.
    assert any("About 120 optimizer updates per fold" in c.value for c in at.caption)
    assert any("optimizer updates per fold: the deep CNN needed" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert "the smallest mood, Happy, has 9 images: use at most 9 folds" in at.error[0].value
    with database.session() as session:  # the default 10 folds: refused, nothing queued
        assert [j.kind for j in jobs.list_jobs(session=session, actor=lead)].count("train") == 2
    next(n for n in at.number_input if n.label == "Folds").set_value(3)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.error
    with database.session() as session:
        kinds = [j.kind for j in jobs.list_jobs(session=session, actor=lead)]
    assert kinds.count("train") == 3
    # The real runs' out-of-fold predictions are reviewed on the Datasets page.
    at.switch_page("pages/datasets.py").run()
    assert not at.exception
    assert any("of 72 training images have a label the model" in c.value for c in at.caption)


@pytest.mark.parametrize("policy", ["mixed_bfloat16"])
def test_bfloat16_and_float32_reach_similar_accuracy(
    monkeypatch, database, settings, lead, snapshot_id, policy
):
    import keras

    scores = {}
    try:
        for forced in ("float32", policy):
            monkeypatch.setenv("MOODLAB_PRECISION", forced)
            params = TrainParams(**small(snapshot_id, arch="plain", folds=0, epochs=8))
            job = run_job(Settings.from_env(), database, lead, params)
            assert job.status == JobStatus.SUCCEEDED, job.error
            assert job.result["precision"] == forced
            scores[forced] = job.result["test_accuracy"]
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert min(scores.values()) > 0.5, scores  # chance is 0.125
    assert abs(scores["float32"] - scores[policy]) <= 0.2, scores  # 24 test images


def test_short_epochs_are_grouped_into_keras_epochs_of_enough_updates():
    from moodlab.training.runs import MIN_UPDATES_PER_CALL, epochs_per_call

    assert MIN_UPDATES_PER_CALL == 64
    assert epochs_per_call(8, 100) == 10  # the demo: 100 epochs of 8 updates, 10 at a time
    assert epochs_per_call(3, 10) == 10  # never 64: all ten in one Keras epoch
    assert epochs_per_call(100, 60) == 1  # a lab's epochs are long enough already
    assert epochs_per_call(5, 7) == 7  # 7 is prime: all of them
    assert epochs_per_call(0, 4) == 4 and epochs_per_call(8, 0) == 1


@pytest.mark.parametrize(("arch", "image_size"), [("plain", 32), ("transfer", 224)])
def test_a_kept_compiled_model_fits_as_a_new_model_would(
    database, settings, lead, snapshot_id, monkeypatch, arch, image_size
):
    """Fits after the first reuse the process's compiled model (no second trace of the
    train step; for transfer, of its head): the same seed still gives the same folds,
    scores and curves as a run whose every fit builds and compiles a model of its own."""
    params = TrainParams(**small(snapshot_id, arch=arch, epochs=3, image_size=image_size))
    kept_models.forget()
    kept = run_job(settings, database, lead, params).result  # folds 2, 3, final: kept
    assert {key[0] for key in kept_models._KEPT} == {
        "transfer_head" if arch == "transfer" else arch
    }
    new_each_time = kept_models.model_for_fit

    def fresh(*args):
        kept_models.forget()
        return new_each_time(*args)

    monkeypatch.setattr(kept_models, "model_for_fit", fresh)
    fresh_run = run_job(settings, database, lead, params).result
    assert kept["cv_scores"] == pytest.approx(fresh_run["cv_scores"], abs=1e-9)
    assert kept["test_accuracy"] == pytest.approx(fresh_run["test_accuracy"], abs=1e-9)
    losses = [h["loss"] for fold in kept["folds"] for h in fold["history"]]
    assert losses == pytest.approx(
        [h["loss"] for fold in fresh_run["folds"] for h in fold["history"]], rel=1e-6
    )
