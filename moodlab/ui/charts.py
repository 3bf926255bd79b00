"""Charts the pages share: heatmaps over moods or annotators, bars, curves, timelines."""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import altair as alt
import pandas as pd

# Streamlit fits a whole chart (title, axes, a legend below) into its height, so each
# height leaves the plot itself about 150-200 px: at 220-260 px in all, the training
# curves, the per-fold chart and the mood timeline were flat lines (issue 29).
CURVE_HEIGHT = 340
# A category's band on a horizontal bar chart: under about 20 px Vega-Lite drops every
# other name as overlapping (one model's recall per mood showed Happy, Angry, ... only).
BAND = 22
FOLD_HEIGHT = 280
TIMELINE_HEIGHT = 400
LEGEND_ROOM = 60  # a legend below the plot

# Vega-Lite specs by the chart's builder and arguments: Altair builds and validates a
# spec in 20-70 ms, and the lead's pages drew the same charts on every rerun (issue 29).
_SPECS: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_SPECS_KEPT = 256
_SPECS_LOCK = threading.Lock()


def spec(build: Callable[..., alt.TopLevelMixin], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``build(*args, **kwargs).to_dict()``, kept by the builder and its arguments (JSON),
    for ``st.vega_lite_chart``; each call gets its own copy (Streamlit moves its data)."""
    key = (
        f"{build.__module__}.{build.__qualname__}",
        json.dumps([args, kwargs], sort_keys=True, default=str),
    )
    with _SPECS_LOCK:
        found = _SPECS.get(key)
        if found is not None:
            _SPECS.move_to_end(key)
    if found is None:
        found = build(*args, **kwargs).to_dict()
        with _SPECS_LOCK:
            _SPECS[key] = found
            while len(_SPECS) > _SPECS_KEPT:
                _SPECS.popitem(last=False)
    return copy.deepcopy(found)


def heatmap(
    matrix: list[list[float | None]],
    rows: list[str],
    cols: list[str],
    *,
    title: str,
    value: str,
    sort: list[str] | None = None,
) -> alt.Chart:
    """A labelled heatmap; ``rows`` and ``cols`` keep their given order (e.g. circle order).

    A None cell is left blank (e.g. a kappa matrix's diagonal). Each label's colour follows
    its cell's: white on the dark half of the scale, black on the light half.
    """
    cells = pd.DataFrame(
        [
            {"row": r, "col": c, value: matrix[i][j]}
            for i, r in enumerate(rows)
            for j, c in enumerate(cols)
            if matrix[i][j] is not None
        ],
        columns=["row", "col", value],
    ).astype({"row": str, "col": str, value: float})
    base = alt.Chart(cells, title=title).encode(
        x=alt.X("col:N", sort=sort or cols, title=None, scale=alt.Scale(domain=sort or cols)),
        y=alt.Y("row:N", sort=sort or rows, title=None, scale=alt.Scale(domain=sort or rows)),
    )
    squares = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues")),
        tooltip=["row", "col", f"{value}:Q"],
    )
    labels = base.mark_text(fontSize=11).encode(
        text=alt.Text(f"{value}:Q", format=".2~f"),
        color=alt.condition(
            alt.datum[value] > label_threshold(cells[value].tolist()),
            alt.value("white"),
            alt.value("black"),
        ),
    )
    return squares + labels


def label_threshold(values: Sequence[float]) -> float:
    """The middle of the colour scale: cells above it are dark, so their labels are white."""
    if not values:
        return 0.0
    low, high = min(values), max(values)
    return float(low + (high - low) / 2)


def bars_by(counts: dict[str, int], *, label: str, value: str) -> alt.Chart:
    """Horizontal bars, one per key, largest first; tall enough for every bar and its label."""
    frame = pd.DataFrame({label: list(counts), value: list(counts.values())})
    return (
        alt.Chart(frame, height=alt.Step(26))
        .mark_bar()
        .encode(
            x=alt.X(f"{value}:Q", title=value, axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(f"{label}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220)),
            tooltip=[label, f"{value}:Q"],
        )
    )


def training_curves(history: list[dict[str, float]]) -> tuple[alt.Chart, alt.Chart]:
    """Loss and accuracy per epoch on two charts, each on its own axis (accuracy 0-1)."""
    return training_curve(history, "loss"), training_curve(history, "accuracy")


def training_curve(history: list[dict[str, float]], metric: str) -> alt.Chart:
    """One of the training curves per epoch: ``metric`` "loss" (its own scale) or
    "accuracy" (0-1), each with its validation twin.

    A point is one Keras epoch; its "epoch" is the run's epoch it ended on (several
    when moodlab.training.runs grouped them; a run recorded before has none, and its
    points are numbered).
    """
    long = pd.DataFrame(
        [
            {"epoch": logs.get("epoch", n), "series": name, "value": v}
            for n, logs in enumerate(history, start=1)
            for name, v in logs.items()
            if name != "epoch"
        ],
        columns=["epoch", "series", "value"],
    )
    last = int(max(long["epoch"].max(), 1)) if len(long) else 1
    # Whole epochs only, from 0 so a run of one point still has an axis to sit on; at
    # most about ten ticks (a 60-epoch run gets 0, 6, 12, ...).
    step = max(1, -(-last // 10))
    ticks = list(range(0, last + 1, step))
    if metric == "loss":
        frame, title, scale = long[long["series"].str.contains("loss")], "Loss", None
    else:
        frame, title, scale = long[long["series"].str.contains("acc")], "Accuracy", [0, 1]
    return (
        alt.Chart(frame, title=title, height=CURVE_HEIGHT)
        .mark_line(point=alt.OverlayMarkDef(size=60, filled=True))
        .encode(
            x=alt.X(
                "epoch:Q",
                scale=alt.Scale(domain=[0, last], nice=False),
                axis=alt.Axis(values=ticks, format="d", labelAngle=0),
            ),
            y=alt.Y(
                "value:Q",
                title=title.lower(),
                scale=alt.Scale(domain=scale) if scale else alt.Scale(zero=False),
            ),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=["epoch:Q", "series:N", alt.Tooltip("value:Q", format=".3f")],
        )
    )


def grouped_bars(
    rows: list[dict], *, x: str, group: str, value: str, title: str, sort: list[str] | None = None
) -> alt.Chart:
    """Horizontal bars of ``value`` (0-1) per ``x``, one colour per ``group`` side by side
    (yOffset): the category names read across at any width, none set on end."""
    frame = pd.DataFrame(rows)
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{x}:N", sort=sort, title=None, axis=alt.Axis(labelLimit=160)),
            yOffset=f"{group}:N",
            x=alt.X(
                f"{value}:Q",
                scale=alt.Scale(domain=[0, 1]),
                title=value,
                axis=alt.Axis(labelFlush=True),  # "1.0" inside the chart's right edge
            ),
            color=alt.Color(f"{group}:N", legend=alt.Legend(orient="bottom", labelLimit=300)),
            tooltip=[group, x, alt.Tooltip(f"{value}:Q", format=".3f")],
        )
        .properties(height=alt.Step(offset_step(frame[group].nunique(), least=12)))
    )


def offset_step(groups: int, *, least: int) -> int:
    """The height of one bar among ``groups`` side by side: at least ``least``, and
    enough that their category's band (all of them) is ``BAND`` px."""
    return max(least, -(-BAND // max(groups, 1)))


def mood_bars(
    rows: list[dict], *, value: str, group: str | None = None, title: str | None = None
) -> alt.Chart:
    """Counts per mood as horizontal bars in circle order (the mood names read across);
    with ``group``, one bar per group side by side (a set, a tier)."""
    from moodlab.core import moods

    order = moods.names()
    frame = pd.DataFrame(rows)
    encoding: dict = {
        "y": alt.Y("mood:N", sort=order, title=None, scale=alt.Scale(domain=order)),
        "x": alt.X(
            f"{value}:Q", title=value, axis=alt.Axis(tickMinStep=1, format="d", labelFlush=True)
        ),
        "tooltip": ["mood:N", *([f"{group}:N"] if group else []), f"{value}:Q"],
    }
    if group:
        encoding["yOffset"] = f"{group}:N"
        encoding["color"] = alt.Color(f"{group}:N", title=None, legend=alt.Legend(orient="bottom"))
    step = offset_step(frame[group].nunique(), least=10) if group else BAND
    chart = alt.Chart(frame, title=title or alt.Undefined).mark_bar().encode(**encoding)
    return chart.properties(height=alt.Step(step))


def fold_accuracy(rows: list[dict], *, group: str | None = None) -> alt.Chart:
    """Validation accuracy per fold as bars on a 0-1 scale with gridlines, the fold
    numbers read across; with ``group`` (a model), the groups' bars side by side."""
    encoding: dict = {
        "x": alt.X("fold:O", title="fold", axis=alt.Axis(labelAngle=0)),
        "y": alt.Y(
            "accuracy:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(values=[0, 0.2, 0.4, 0.6, 0.8, 1], format=".0%", grid=True),
        ),
        "tooltip": ["fold:O", alt.Tooltip("accuracy:Q", format=".3f")],
    }
    if group:
        encoding["xOffset"] = f"{group}:N"
        encoding["color"] = alt.Color(
            f"{group}:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=300)
        )
        encoding["tooltip"] = [f"{group}:N", *encoding["tooltip"]]
    height = FOLD_HEIGHT + (LEGEND_ROOM if group else 0)
    bars = alt.Chart(pd.DataFrame(rows), height=height).mark_bar().encode(**encoding)
    labels = (
        alt.Chart(pd.DataFrame(rows))
        .mark_text(dy=-6, fontSize=10)
        .encode(
            x=encoding["x"],
            y="accuracy:Q",
            text=alt.Text("accuracy:Q", format=".2f"),
            **({"xOffset": f"{group}:N"} if group else {}),
        )
    )
    return bars if group else bars + labels


def reliability(bins: list[dict]) -> alt.Chart:
    """Accuracy against confidence per bin, square, with the diagonal a calibrated model
    lies on; each point sized by its images. ``bins``: {"confidence", "accuracy", "images"}."""
    side = 280  # with its axes, within a phone's 358 px column
    axis = alt.Scale(domain=[0, 1], nice=False)
    diagonal = (
        alt.Chart(pd.DataFrame({"confidence": [0.0, 1.0], "accuracy": [0.0, 1.0]}))
        .mark_line(strokeDash=[5, 4], color="gray")
        .encode(x=alt.X("confidence:Q", scale=axis), y=alt.Y("accuracy:Q", scale=axis))
    )
    points = (
        alt.Chart(pd.DataFrame(bins))
        .mark_circle(opacity=0.85, clip=False)
        .encode(
            x=alt.X("confidence:Q", scale=axis, title="confidence (mean of the bin)"),
            y=alt.Y("accuracy:Q", scale=axis, title="accuracy"),
            size=alt.Size("images:Q", legend=None),  # the caption says: size is images
            tooltip=[
                alt.Tooltip("confidence:Q", format=".2f"),
                alt.Tooltip("accuracy:Q", format=".2f"),
                "images:Q",
            ],
        )
    )
    return (diagonal + points).properties(width=side, height=side)


def mood_timeline(
    rows: list[dict],
    *,
    moods: list[str],
    chosen: str,
    boundaries: Sequence[float] = (),
    duration: float | None = None,
    steps: bool = False,
) -> alt.Chart:
    """The eight probabilities over time (one line per mood, the chosen one bold),
    with segment boundaries as vertical rules. ``rows``: {"t", "probs": {mood: p}}.
    The time axis spans ``duration`` (the whole video) when given. With ``steps`` (a
    slideshow: each sample is one photo, shown until the next) each value holds until
    the next sample, with a point at each sample, instead of a curve between them."""
    if steps and rows and duration and duration > rows[-1]["t"]:
        rows = [*rows, {**rows[-1], "t": duration}]  # the last photo holds to the end
    long = pd.DataFrame(
        [
            {"t": row["t"], "mood": mood, "probability": row["probs"][mood]}
            for row in rows
            for mood in moods
        ]
    )
    lines = (
        alt.Chart(long, height=TIMELINE_HEIGHT)
        .mark_line(
            interpolate="step-after" if steps else "monotone",
            point=alt.OverlayMarkDef(size=30) if steps else False,
        )
        .encode(
            x=alt.X(
                "t:Q",
                title="seconds",
                scale=alt.Scale(domain=[0, duration], nice=False) if duration else alt.Undefined,
            ),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "mood:N",
                sort=moods,
                scale=alt.Scale(scheme="tableau10"),
                legend=alt.Legend(orient="bottom", columns=3),  # 3 fit a phone
            ),
            strokeWidth=alt.condition(alt.datum.mood == chosen, alt.value(4), alt.value(1.5)),
            tooltip=["t:Q", "mood:N", alt.Tooltip("probability:Q", format=".3f")],
        )
    )
    if not boundaries:
        return lines
    rules = (
        alt.Chart(pd.DataFrame({"t": list(boundaries)}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(x="t:Q", tooltip=[alt.Tooltip("t:Q", title="scene cut (s)")])
    )
    return lines + rules


def mood_probabilities(probs: dict[str, float], *, label: str, suggested: str) -> alt.Chart:
    """A model's eight probabilities for one image as small horizontal bars in circle
    order (the mood names read across): the image's label and the suggestion stand out."""
    frame = pd.DataFrame(
        [
            {
                "mood": mood,
                "probability": p,
                "role": "label" if mood == label else "suggested" if mood == suggested else "other",
            }
            for mood, p in probs.items()
        ]
    )
    colours = alt.Scale(
        domain=["label", "suggested", "other"], range=["#4c78a8", "#e45756", "#bab0ac"]
    )
    return (
        alt.Chart(frame, height=alt.Step(18))
        .mark_bar()
        .encode(
            y=alt.Y(
                "mood:N",
                sort=list(probs),
                title=None,
                axis=alt.Axis(labelLimit=120, labelOverlap=False),
            ),
            x=alt.X(
                "probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(labelFlush=True)
            ),
            color=alt.Color("role:N", scale=colours, legend=None),
            tooltip=["mood:N", "role:N", alt.Tooltip("probability:Q", format=".3f")],
        )
    )
