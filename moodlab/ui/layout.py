"""Layout helpers the pages share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from moodlab.core.errors import MoodlabError
from moodlab.ui import session
from moodlab.ui.text import plain


def metric_row(metrics: Iterable[tuple[str, Any]]) -> None:
    """Counts side by side in a row that wraps: on a phone five counts take two rows,
    where columns would stack them one per row down the page."""
    with st.container(horizontal=True, gap="medium"):
        for label, value in metrics:
            st.metric(label, value, width="content")


def act(action: Callable[[Session], object], success: str) -> None:
    """Call a service in a session of its own; show its error, or a toast and a fresh page."""
    try:
        with session.database().session() as db:
            action(db)
    except MoodlabError as exc:
        st.error(plain(exc))
        return
    st.toast(success)
    st.rerun()
