"""The shared charts: labels readable on every cell, blank cells, separate axes."""

from moodlab.core.text import label, plural
from moodlab.ui import charts


def spec_of(chart) -> dict:
    return chart.to_dict()


def test_heatmap_labels_are_white_on_dark_cells_and_black_on_light_ones():
    matrix = [[0.0, 4.0], [10.0, None]]
    chart = charts.heatmap(matrix, ["a", "b"], ["a", "b"], title="t", value="pairs")
    text = next(layer for layer in spec_of(chart)["layer"] if layer["mark"]["type"] == "text")
    colour = text["encoding"]["color"]
    assert colour["condition"]["value"] == "white" and colour["value"] == "black"
    assert "datum['pairs'] > 5.0" in colour["condition"]["test"]
    assert (
        charts.label_threshold([-0.2, 0.8]) == 0.30000000000000004
        or abs(charts.label_threshold([-0.2, 0.8]) - 0.3) < 1e-9
    )


def test_heatmap_leaves_none_cells_blank_but_keeps_every_row_and_column():
    chart = charts.heatmap(
        [[None, 0.5], [0.5, None]], ["a", "b"], ["a", "b"], title="kappa", value="kappa"
    )
    spec = spec_of(chart)
    rows = next(iter(spec["datasets"].values()))
    assert [(r["row"], r["col"]) for r in rows] == [("a", "b"), ("b", "a")]
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == ["a", "b"]


def test_training_curves_put_loss_and_accuracy_on_separate_axes():
    history = [
        {"loss": 2.1, "accuracy": 0.2, "val_loss": 2.3, "val_accuracy": 0.15},
        {"loss": 1.2, "accuracy": 0.4, "val_loss": 1.9, "val_accuracy": 0.3},
    ]
    loss, accuracy = charts.training_curves(history)
    assert set(loss.data["series"]) == {"loss", "val_loss"}
    assert set(accuracy.data["series"]) == {"accuracy", "val_accuracy"}
    assert spec_of(accuracy)["encoding"]["y"]["scale"]["domain"] == [0, 1]
    assert list(loss.data["epoch"].unique()) == [1, 2]  # no "epoch": numbered


def test_training_curves_put_grouped_epochs_where_they_ended():
    history = [
        {"epoch": 10, "loss": 2.0, "accuracy": 0.2},
        {"epoch": 20, "loss": 1.0, "accuracy": 0.6},
    ]
    loss, accuracy = charts.training_curves(history)
    assert set(loss.data["series"]) == {"loss"} and set(accuracy.data["series"]) == {"accuracy"}
    assert list(loss.data["epoch"]) == [10, 20]


def test_bars_by_is_tall_enough_for_every_bar():
    spec = spec_of(
        charts.bars_by({"not image": 3, "private address": 1}, label="reason", value="rejected")
    )
    assert spec["height"] == {"step": 26}
    assert spec["encoding"]["y"]["title"] is None


def test_plural_and_labels():
    assert plural(1, "disputed image") == "1 disputed image"
    assert plural(2, "disputed image") == "2 disputed images"
    assert plural(0, "match") == "0 matches"
    assert plural(3, "query") == "3 queries"
    assert plural(1_000, "vote") == "1,000 votes"
    assert label("no_consensus") == "no consensus"


def test_a_charts_spec_is_built_once_and_each_caller_gets_a_copy(monkeypatch):
    """Issue 29: the Agreement and Datasets pages built the same Altair charts (20-70 ms
    each) on every rerun."""
    from moodlab.ui import charts

    built = []
    real = charts.heatmap

    def heatmap(*args, **kwargs):
        built.append(args)
        return real(*args, **kwargs)

    matrix = [[None, 0.5], [0.5, None]]
    first = charts.spec(heatmap, matrix, ["a", "b"], ["a", "b"], title="kappa", value="k")
    first["datasets"] = {}  # Streamlit moves the data out of the spec it is given
    second = charts.spec(heatmap, matrix, ["a", "b"], ["a", "b"], title="kappa", value="k")
    assert len(built) == 1
    assert second == real(matrix, ["a", "b"], ["a", "b"], title="kappa", value="k").to_dict()
    charts.spec(heatmap, matrix, ["a", "b"], ["a", "b"], title="kappa", value="other")
    assert len(built) == 2  # other arguments, another spec
