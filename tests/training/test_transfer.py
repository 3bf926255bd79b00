"""`--arch transfer`: a small head on the pretrained backbone's kept features."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select

from moodlab.core import predictions
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, TrainedModel
from moodlab.core.storage import ContentStore
from moodlab.datasets.snapshots import members_of
from moodlab.training import backbone, features
from moodlab.training.runs import TrainParams
from tests.conftest import add_user, run_cli, run_job
from tests.training.test_training_run import mood_picture, small

# 4 pictures a mood: 3 to train on (3 folds), 1 to test; the backbone's 224 px features
# of 32 pictures cost a few seconds, Lite0's build a few more.
PER_MOOD = 4


@pytest.fixture
def snapshot_id(database, settings, lead):
    from dataclasses import replace

    from moodlab.core import moods
    from moodlab.core.models import Role
    from moodlab.datasets import snapshots as datasets
    from moodlab.datasets.snapshots import Rules
    from moodlab.images.intake import Intake, Provenance
    from moodlab.votes import annotation

    people = [add_user(database, f"a{i}", Role.ANNOTATOR) for i in range(4)]
    intake = Intake(replace(settings, near_duplicate_distance=0), database)
    for k, mood in enumerate(moods.names()):
        for n in range(PER_MOOD):
            image = intake.add_bytes(mood_picture(k, n), Provenance(source=f"{mood}{n}"))
            for person in people:
                with database.session() as session:
                    annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    with database.session() as session:
        rules = Rules(per_mood_cap=PER_MOOD - 1, seed=0)
        return datasets.freeze(session=session, actor=lead, settings=settings, rules=rules).id


def test_transfer_trains_a_head_on_kept_features_with_nothing_placed_by_hand(
    database,
    settings,
    lead,
    snapshot_id,  # noqa: F811
):
    args = ["--arch", "transfer", "--folds", "3", "--epochs", "10", "--batch-size", "16"]
    result = run_cli("train", "--dataset", str(snapshot_id), *args, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["arch"] == "transfer" and len(report["cv_scores"]) == 3
    assert report["cv_mean"] > 0.5, report["cv_scores"]  # chance is 0.125
    assert report["test_accuracy"] >= 0.5 and len(report["confusion_matrix"]) == 8

    with database.session() as session:
        model = session.get(TrainedModel, report["model_id"])
        members = members_of(session=session, actor=lead, snapshot_id=snapshot_id)
    assert model.image_size == 224
    assert model.report["backbone"] == {
        **backbone.describe(),
        "fine_tune_blocks": 0,  # frozen: no fine-tuning (tests/training/test_fine_tune.py)
        "fine_tune_epochs": 0,
        "fine_tune_learning_rate": None,
    }
    assert model.report["backbone"]["weights_sha256"].startswith("579344248a93")
    # The label review and calibration read the out-of-fold probabilities, as for any run.
    train = [m for m in members if m.split == "train"]
    out_of_fold = predictions.load(settings.data_dir, model.report["out_of_fold"]["file"])
    assert set(out_of_fold.images) == {m.sha256 for m in train}
    # Every image of the snapshot, train and test, has its features kept.
    store = ContentStore(settings.data_dir)
    assert not features.missing(store, [m.sha256 for m in members])

    # The saved model takes 224 px images: the frozen backbone, then the trained head.
    import keras

    saved = keras.models.load_model(settings.data_dir / model.path, compile=False)
    assert saved.input_shape == (None, 224, 224, 3) and saved.output_shape == (None, 8)
    assert saved.count_params() == report["params"]
    assert not saved.get_layer("lite0").trainable
    from moodlab.images.intake import display_path

    first = train[0].sha256
    pixels = backbone.square_pixels(display_path(store, first))[None].astype("float32") / 255
    from_images = np.asarray(saved(pixels, training=False))[0]
    head = saved.get_layer("transfer_head")
    kept = features.load_one(store, first).astype("float32")[None]
    from_kept = np.asarray(head(kept, training=False))[0]
    np.testing.assert_allclose(from_images, from_kept, atol=0.02)

    evaluated = run_cli("models", "evaluate", str(model.id), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["accuracy"] == report["test_accuracy"]


def test_transfer_is_refused_at_another_size_before_anything_is_queued(
    database,
    settings,
    lead,
    snapshot_id,  # noqa: F811
):
    with pytest.raises(MoodlabError, match="transfer architecture works at 224 px"):
        run_job(settings, database, lead, TrainParams(**small(snapshot_id, arch="transfer")))
    with database.session() as session:
        assert not session.scalars(select(Job)).all()
