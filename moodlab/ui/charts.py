"""Charts the pages share: heatmaps over moods or annotators, bars, curves, timelines."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd


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
    """Loss and accuracy per epoch on two charts, each on its own axis (accuracy 0-1).

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
    is_loss = long["series"].str.contains("loss")
    is_accuracy = long["series"].str.contains("acc")

    def chart(frame: pd.DataFrame, title: str, domain: list[float] | None) -> alt.Chart:
        scale = alt.Scale(domain=domain) if domain else alt.Scale(zero=False)
        return (
            alt.Chart(frame, title=title)
            .mark_line(point=True)
            .encode(
                x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")),
                y=alt.Y("value:Q", title=title.lower(), scale=scale),
                color=alt.Color("series:N", title=None),
                tooltip=["epoch:Q", "series:N", alt.Tooltip("value:Q", format=".3f")],
            )
        )

    return chart(long[is_loss], "Loss", None), chart(long[is_accuracy], "Accuracy", [0, 1])


def grouped_bars(
    rows: list[dict], *, x: str, group: str, value: str, title: str, sort: list[str] | None = None
) -> alt.Chart:
    """Bars of ``value`` per ``x``, one colour per ``group``, side by side (xOffset)."""
    return (
        alt.Chart(pd.DataFrame(rows), title=title)
        .mark_bar()
        .encode(
            x=alt.X(f"{x}:N", sort=sort, title=None),
            xOffset=f"{group}:N",
            y=alt.Y(f"{value}:Q", scale=alt.Scale(domain=[0, 1])),
            color=f"{group}:N",
            tooltip=[group, x, alt.Tooltip(f"{value}:Q", format=".3f")],
        )
    )


def mood_timeline(
    rows: list[dict],
    *,
    moods: list[str],
    chosen: str,
    boundaries: Sequence[float] = (),
    duration: float | None = None,
) -> alt.Chart:
    """The eight probabilities over time (one line per mood, the chosen one bold),
    with segment boundaries as vertical rules. ``rows``: {"t", "probs": {mood: p}}.
    The time axis spans ``duration`` (the whole video) when given."""
    long = pd.DataFrame(
        [
            {"t": row["t"], "mood": mood, "probability": row["probs"][mood]}
            for row in rows
            for mood in moods
        ]
    )
    lines = (
        alt.Chart(long)
        .mark_line(interpolate="monotone")
        .encode(
            x=alt.X(
                "t:Q",
                title="seconds",
                scale=alt.Scale(domain=[0, duration], nice=False) if duration else alt.Undefined,
            ),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("mood:N", sort=moods, scale=alt.Scale(scheme="tableau10")),
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
    """A model's eight probabilities for one image as small bars in circle order: the
    image's label and the mood the model suggests stand out."""
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
        alt.Chart(frame, height=150)
        .mark_bar()
        .encode(
            x=alt.X(
                "mood:N",
                sort=list(probs),
                title=None,  # every mood named, none dropped
                axis=alt.Axis(labelAngle=-60, labelOverlap=False, labelFontSize=10),
            ),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("role:N", scale=colours, legend=None),
            tooltip=["mood:N", "role:N", alt.Tooltip("probability:Q", format=".3f")],
        )
    )
