"""Charts that read (issue 29): a square reliability plot with its diagonal, per-fold bars
on a visible 0-1 scale, whole-number epoch ticks, mood names across, slideshow steps."""

from moodlab.core import moods
from moodlab.ui import charts


def layers(chart) -> list[dict]:
    spec = chart.to_dict()
    return spec.get("layer", [spec])


def test_the_reliability_plot_is_square_with_its_diagonal():
    bins = [
        {"confidence": 0.35, "accuracy": 0.3, "images": 12},
        {"confidence": 0.95, "accuracy": 1.0, "images": 40},
    ]
    spec = charts.reliability(bins).to_dict()
    assert spec["width"] == spec["height"] >= 250
    diagonal, points = spec["layer"]
    line = spec["datasets"][diagonal["data"]["name"]]
    assert [(p["confidence"], p["accuracy"]) for p in line] == [(0.0, 0.0), (1.0, 1.0)]
    for axis in ("x", "y"):
        assert points["encoding"][axis]["scale"]["domain"] == [0, 1]
    assert points["mark"]["clip"] is False  # a point at 1.0 is drawn whole


def test_fold_accuracy_is_bars_on_a_visible_scale():
    rows = [{"fold": k, "accuracy": a} for k, a in enumerate([0.61, 0.64, 0.6], start=1)]
    bars, labels = layers(charts.fold_accuracy(rows))
    assert bars["mark"]["type"] == "bar" and labels["mark"]["type"] == "text"
    y = bars["encoding"]["y"]
    assert y["scale"]["domain"] == [0, 1] and y["axis"]["values"] == [0, 0.2, 0.4, 0.6, 0.8, 1]
    assert bars["encoding"]["x"]["type"] == "ordinal"
    assert bars["encoding"]["x"]["axis"]["labelAngle"] == 0
    grouped = charts.fold_accuracy([{**r, "model": "deep #1"} for r in rows], group="model")
    assert grouped.to_dict()["encoding"]["xOffset"]["field"] == "model"


def test_a_short_run_gets_points_and_whole_epoch_ticks():
    history = [{"epoch": 5, "loss": 1.9, "accuracy": 0.3}]  # 5 epochs in one Keras call
    loss, _ = charts.training_curves(history)
    spec = loss.to_dict()
    x = spec["encoding"]["x"]
    assert x["axis"]["values"] == [0, 1, 2, 3, 4, 5] and x["axis"]["format"] == "d"
    assert x["scale"]["domain"] == [0, 5]
    assert spec["mark"]["point"]["filled"] is True
    long = [{"epoch": e, "loss": 1.0} for e in range(1, 61)]
    ticks = charts.training_curves(long)[0].to_dict()["encoding"]["x"]["axis"]["values"]
    assert ticks == list(range(0, 61, 6))


def test_mood_names_read_across():
    rows = [{"mood": m, "set": s, "images": 3} for m in moods.names() for s in ("train", "test")]
    spec = charts.mood_bars(rows, value="images", group="set").to_dict()
    assert (
        spec["encoding"]["y"]["field"] == "mood" and spec["encoding"]["y"]["sort"] == moods.names()
    )
    assert spec["encoding"]["x"]["field"] == "images"
    probs = dict.fromkeys(moods.names(), 0.125)
    spec = charts.mood_probabilities(probs, label="Happy", suggested="Tired").to_dict()
    assert spec["encoding"]["y"]["field"] == "mood"
    rows = [{"model": "a", "mood": m, "recall": 0.5} for m in moods.names()]
    spec = charts.grouped_bars(rows, x="mood", group="model", value="recall", title="t").to_dict()
    assert spec["encoding"]["y"]["field"] == "mood" and "labelAngle" not in spec["encoding"]["y"]


def test_a_slideshow_timeline_is_steps_held_to_the_end():
    probs = dict.fromkeys(moods.names(), 0.1) | {"Happy": 0.3}
    rows = [{"t": t, "probs": probs} for t in (0.0, 4.0, 8.0)]
    spec = charts.mood_timeline(
        rows, moods=moods.names(), chosen="Happy", duration=12.0, steps=True
    )
    spec = spec.to_dict()
    assert spec["mark"]["interpolate"] == "step-after"
    shown = spec["datasets"][spec["data"]["name"]]
    assert max(row["t"] for row in shown) == 12.0
    curve = charts.mood_timeline(rows, moods=moods.names(), chosen="Happy", duration=12.0)
    assert curve.to_dict()["mark"]["interpolate"] == "monotone"


def test_every_mood_name_has_room_with_one_bar_or_several():
    # A category's band (its bars side by side) under ~20 px makes Vega-Lite drop every
    # other name: one model's recall per mood showed half the moods.
    for models in (["deep #1"], ["deep #1", "plain #2", "deep #3"]):
        rows = [{"model": a, "mood": m, "recall": 0.5} for a in models for m in moods.names()]
        chart = charts.grouped_bars(rows, x="mood", group="model", value="recall", title="t")
        assert chart.to_dict()["height"]["step"] * len(models) >= 20
    rows = [{"mood": m, "set": "train", "images": 3} for m in moods.names()]
    spec = charts.mood_bars(rows, value="images", group="set").to_dict()
    assert spec["height"]["step"] >= 20
