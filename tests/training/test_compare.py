"""The comparison table: the paper's CNN, the plain CNN and transfer, on the same folds."""

from __future__ import annotations

from moodlab.core.models import TrainedModel
from moodlab.training import compare


def model(id: int, arch: str, *, snapshot: int = 1, folds: int = 3, seed: int = 0) -> TrainedModel:
    return TrainedModel(
        id=id,
        arch=arch,
        path=f"models/{id}.keras",
        snapshot_id=snapshot,
        params=1000,
        image_size=224 if arch == "transfer" else 128,
        precision="float32",
        cv_mean=0.5,
        cv_std=0.1,
        report={"settings": {"folds": folds, "seed": seed, "epochs": 10}, "test": {}},
    )


def test_the_table_names_each_architecture_and_its_split():
    models = [model(1, "deep"), model(2, "plain"), model(3, "transfer")]
    rows = compare.summary_rows(models)
    assert [row["architecture"] for row in rows] == [
        "the paper's CNN (Table 2)",
        "plain CNN",
        "transfer (EfficientNet-Lite0)",
    ]
    assert [(row["snapshot"], row["folds"], row["seed"]) for row in rows] == [(1, 3, 0)] * 3
    assert compare.same_split(models)


def test_runs_on_another_snapshot_folds_or_seed_are_not_on_the_same_split():
    assert not compare.same_split([model(1, "deep"), model(2, "transfer", snapshot=2)])
    assert not compare.same_split([model(1, "deep"), model(2, "transfer", folds=10)])
    assert not compare.same_split([model(1, "deep"), model(2, "transfer", seed=1)])


def test_a_fine_tuned_transfer_run_says_how_many_blocks_were_fine_tuned():
    tuned = model(4, "transfer")
    tuned.report["settings"]["fine_tune_blocks"] = 2
    rows = compare.summary_rows([model(3, "transfer"), tuned])
    assert [row["architecture"] for row in rows] == [
        "transfer (EfficientNet-Lite0)",
        "transfer (EfficientNet-Lite0), top 2 blocks fine-tuned",
    ]
