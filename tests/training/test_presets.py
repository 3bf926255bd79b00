"""The Training form's starting points: fitted to the snapshot, or the paper's."""

from moodlab.core import moods
from moodlab.training import presets
from moodlab.training.budget import data_problem
from moodlab.training.runs import TrainParams, estimated_updates


def counts(n: int, smallest: int | None = None) -> dict[str, int]:
    names = moods.names()
    return {m: (smallest if smallest is not None and i == 0 else n) for i, m in enumerate(names)}


def test_the_papers_settings_are_table_3s():
    paper = presets.paper(7)
    assert (paper.arch, paper.folds, paper.epochs, paper.batch_size, paper.image_size) == (
        "deep",
        10,
        60,
        64,
        128,
    )
    assert paper == TrainParams(snapshot_id=7)


def test_fitted_settings_use_the_backbone_and_fold_what_the_snapshot_can_fold():
    small = presets.fitted(3, counts(40, smallest=6))  # 286 images, one mood of 6
    assert (small.arch, small.image_size, small.folds, small.batch_size) == ("transfer", 224, 6, 32)
    assert data_problem(counts(40, smallest=6), small.folds, 3) is None
    assert estimated_updates(286, small) >= presets.TARGET_UPDATES
    large = presets.fitted(3, counts(400))  # 3,200 images
    assert (large.folds, large.batch_size, large.epochs) == (10, 64, 10)
    assert presets.fitted(3, counts(9, smallest=1)).folds == 0
