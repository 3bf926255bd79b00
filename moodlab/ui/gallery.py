"""Pages of items: a page number the user picks, and the slice of the items it shows.

Pictures themselves come by URL from the app's file route (moodlab/ui/files.py): the
gallery pages pass ``thumbnail_url`` (the 128 px training copy), never a file's bytes.
"""

from __future__ import annotations

import math

import streamlit as st


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
