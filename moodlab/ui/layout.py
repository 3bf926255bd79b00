"""Layout helpers the pages share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st


def metric_row(metrics: Iterable[tuple[str, Any]]) -> None:
    """Counts side by side in a row that wraps: on a phone five counts take two rows,
    where columns would stack them one per row down the page."""
    with st.container(horizontal=True, gap="medium"):
        for label, value in metrics:
            st.metric(label, value, width="content")
