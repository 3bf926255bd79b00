"""`--fine-tune-blocks N`: the transfer head first, then the backbone's top N blocks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from moodlab.core import moods, predictions
from moodlab.core.models import Job, Role, TrainedModel
from moodlab.datasets.snapshots import members_of
from tests.conftest import add_user, run_cli

# Eight real photographs (scikit-image's, 224 px; tests/data/backbone/photos.json): four
# a mood for two moods, three of each to train on (two folds) and one to test.
PHOTOS = sorted((Path(__file__).parent.parent / "data" / "backbone").glob("*.png"))
TRAIN_PER_MOOD = 3


@pytest.fixture
def photo_snapshot(database, settings, lead):
    from moodlab.datasets import snapshots
    from moodlab.images.intake import Intake, Provenance
    from moodlab.votes import annotation

    assert len(PHOTOS) == 8
    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
    intake = Intake(replace(settings, near_duplicate_distance=0), database)
    for n, photo in enumerate(PHOTOS):
        mood = moods.names()[n % 2]
        image = intake.add_bytes(photo.read_bytes(), Provenance(source=photo.name))
        assert image is not None
        for person in people:
            with database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    with database.session() as session:
        rules = snapshots.Rules(per_mood_cap=TRAIN_PER_MOOD, seed=0)
        return snapshots.freeze(session=session, actor=lead, settings=settings, rules=rules).id


def _weights(model, names):
    return {name: [np.array(w) for w in model.get_layer(name).get_weights()] for name in names}


def test_fine_tuning_one_block_trains_it_and_leaves_the_blocks_below_as_pretrained(
    database, settings, lead, photo_snapshot
):
    args = ["--arch", "transfer", "--folds", "2", "--epochs", "2", "--batch-size", "4"]
    tuning = ["--fine-tune-blocks", "1", "--fine-tune-epochs", "1"]
    result = run_cli(
        "train", "--dataset", str(photo_snapshot), *args, *tuning, "--json", timeout=600
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["cv_scores"]) == 2 and len(report["confusion_matrix"]) == 8

    with database.session() as session:
        model = session.get(TrainedModel, report["model_id"])
        train = [
            m.sha256
            for m in members_of(session=session, actor=lead, snapshot_id=photo_snapshot)
            if m.split == "train"
        ]
    # The setting is recorded with the backbone, its weights' hash and its input size.
    recorded = model.report["backbone"]
    assert recorded["fine_tune_blocks"] == 1 and recorded["fine_tune_epochs"] == 1
    assert recorded["weights_sha256"].startswith("579344248a93")
    assert recorded["image_size"] == 224 and model.image_size == 224
    assert model.report["settings"]["fine_tune_blocks"] == 1
    # Per-fold records and the out-of-fold probabilities (calibration, label review).
    assert [f["fold"] for f in model.report["folds"]] == [1, 2]
    out_of_fold = predictions.load(settings.data_dir, model.report["out_of_fold"]["file"])
    assert sorted(out_of_fold.images) == sorted(train)
    assert np.allclose(out_of_fold.probs.sum(axis=1), 1, atol=1e-4)
    # The fine-tuning epoch follows the head's two in the final model's curve.
    assert [h["epoch"] for h in model.report["final_history"]][-1] == 3

    import keras

    from moodlab.training import lite0

    saved = keras.models.load_model(settings.data_dir / model.path, compile=False)
    pretrained = lite0.built()
    tuned_backbone = saved.get_layer("lite0")
    top = ["block15_expand", "block15_depthwise", "block15_project", "head"]
    below = [
        layer.name
        for layer in pretrained.layers
        if layer.get_weights() and layer.name not in top and layer.name != "classifier"
    ]
    assert "block14_project" in below and "block15_project_bn" in below and "stem" in below
    before, after = _weights(pretrained, top), _weights(tuned_backbone, top)
    for name in top:
        assert not np.array_equal(before[name][0], after[name][0]), f"{name} did not change"
    before, after = _weights(pretrained, below), _weights(tuned_backbone, below)
    for name in below:  # the lower blocks, the stem and every BatchNormalization layer
        for old, new in zip(before[name], after[name], strict=True):
            np.testing.assert_array_equal(old, new, err_msg=name)

    # It predicts: evaluation on its test set, and the video path's frames.
    evaluated = run_cli("models", "evaluate", str(model.id), "--json", timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["accuracy"] == report["test_accuracy"]
    from PIL import Image

    from moodlab.images.resize import square_crop
    from moodlab.video.frames import Batch
    from moodlab.video.timeline import load_model, predict

    frames = np.stack(
        [np.asarray(square_crop(Image.open(p).convert("RGB"), 128)) for p in PHOTOS[:3]]
    )
    times, probs = predict(
        load_model(settings, model), [Batch(np.arange(3.0), frames)], image_size=224
    )
    assert probs.shape == (3, 8) and np.allclose(probs.sum(axis=1), 1, atol=1e-3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fine-tune-blocks", "-1"], "fine-tune blocks must be 0 (the backbone frozen) or more"),
        (["--fine-tune-blocks", "17"], "fine-tune blocks is 17, but efficientnet-lite0 has 16"),
        (
            ["--arch", "plain", "--fine-tune-blocks", "2"],
            "only the transfer architecture has a pretrained backbone",
        ),
        (["--fine-tune-blocks", "2", "--fine-tune-epochs", "0"], "fine-tune epochs must be"),
    ],
)
def test_the_command_refuses_a_bad_number_of_blocks_and_queues_nothing(
    database, photo_snapshot, args, message
):
    if "--arch" not in args:
        args = ["--arch", "transfer", *args]
    result = run_cli("train", "--dataset", str(photo_snapshot), *args, "--json")
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with database.session() as session:
        assert not session.scalars(select(Job)).all()
