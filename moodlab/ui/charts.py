"""Charts the pages share: heatmaps over moods or annotators."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd


def heatmap(matrix: list[list[float | None]], rows: list[str], cols: list[str], *, title: str,
            value: str, sort: list[str] | None = None) -> alt.Chart:  # fmt: skip
    """A labelled heatmap; ``rows`` and ``cols`` keep their given order (e.g. circle order)."""
    cells = pd.DataFrame(
        [
            {"row": r, "col": c, value: matrix[i][j]}
            for i, r in enumerate(rows)
            for j, c in enumerate(cols)
        ]
    )
    base = alt.Chart(cells, title=title).encode(
        x=alt.X("col:N", sort=sort or cols, title=None),
        y=alt.Y("row:N", sort=sort or rows, title=None),
    )
    squares = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues")),
        tooltip=["row", "col", f"{value}:Q"],
    )
    labels = base.mark_text(fontSize=11).encode(text=alt.Text(f"{value}:Q", format=".2~f"))
    return squares + labels


def grouped_bars(rows: list[dict], *, x: str, group: str, value: str, title: str,
                 sort: list[str] | None = None) -> alt.Chart:  # fmt: skip
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


def mood_timeline(rows: list[dict], *, moods: list[str], chosen: str,
                  boundaries: Sequence[float] = ()) -> alt.Chart:  # fmt: skip
    """The eight probabilities over time (one line per mood, the chosen one bold),
    with segment boundaries as vertical rules. ``rows``: {"t", "probs": {mood: p}}."""
    long = pd.DataFrame(
        [{"t": row["t"], "mood": mood, "probability": row["probs"][mood]}
         for row in rows for mood in moods]
    )  # fmt: skip
    lines = (
        alt.Chart(long)
        .mark_line(interpolate="monotone")
        .encode(
            x=alt.X("t:Q", title="seconds"),
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
