"""Pictures in a page: the one place a gallery picks how a browser gets an image file.

Thumbnails are the 128 px training copies (a few kilobytes each), never the display
copies. Today Streamlit serves each file it is given; when the app's authenticated file
route serves files by URL, ``picture_source`` is the one function that changes.
"""

from __future__ import annotations

import math
from pathlib import Path

import streamlit as st


def picture_source(path: Path) -> str:
    """What ``st.image`` gets for a stored file."""
    return str(path)


def pager(*, total: int, per_page: int, key: str, label: str = "Page") -> slice:
    """The slice of ``total`` items on the page the user chose; a page number input
    appears only when there is more than one page."""
    pages = max(1, math.ceil(total / per_page))
    if st.session_state.get(key, 1) > pages:
        st.session_state[key] = pages  # fewer pages than before: the last one
    if pages == 1:
        return slice(0, total)
    page = int(st.number_input(f"{label} (of {pages})", 1, pages, key=key, width=180))
    start = (page - 1) * per_page
    st.caption(f"{start + 1}-{min(total, start + per_page)} of {total}")
    return slice(start, start + per_page)
