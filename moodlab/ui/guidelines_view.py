"""The guidelines as an annotator reads them: shared by the Guidelines and Annotate pages.

The lead's text is shown as the characters it is (``plain``), never as Markdown.
"""

from __future__ import annotations

import streamlit as st

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.models import Image
from moodlab.core.storage import ContentStore
from moodlab.images.intake import thumbnail_path
from moodlab.ui.files import thumbnail_url
from moodlab.ui.text import plain
from moodlab.ui.times import local
from moodlab.votes.guidelines import Guidelines, VersionUse


def show(guidelines: Guidelines, examples: dict[str, list[Image]], settings: Settings) -> None:
    """The introduction, then each mood: its key, one-line definition, text and examples."""
    for paragraph in guidelines.intro.split("\n\n"):
        st.markdown(plain(paragraph))
    store = ContentStore(settings.data_dir)
    for mood in moods.all_moods():
        guide = guidelines.moods[mood.name]
        with st.container(border=True):
            words, pictures = st.columns([3, 2])
            words.markdown(f"**{mood.name}** · key {mood.key}")
            words.markdown(f"*{plain(guide.definition)}*")
            for paragraph in guide.text.split("\n\n"):
                words.caption(plain(paragraph))
            shown = [
                thumbnail_url(image.sha256)
                for image in examples.get(mood.name, [])
                if thumbnail_path(store, image.sha256).exists()
            ]
            if shown:
                pictures.image(shown, width=96)
            else:
                pictures.caption("No example images chosen yet.")


def version_line(guidelines: Guidelines) -> str:
    """``"Version 2, published 2026-12-07 07:20 CET by lena"`` (plain text, the viewer's zone)."""
    if guidelines.created_at is None:
        return f"Version {guidelines.version}: moodlab's defaults"
    by = f" by {guidelines.created_by}" if guidelines.created_by else ""
    if guidelines.version == 1 and not by:
        by = " (moodlab's defaults)"
    return f"Version {guidelines.version}, published {local(guidelines.created_at)}{by}"


def versions_rows(uses: list[VersionUse]) -> list[dict[str, object]]:
    """Each version with its votes, as the Guidelines and Agreement pages list them."""
    # One type a column: with the unversioned row ("none") every version is text, or
    # Arrow refuses the column and Streamlit logs a traceback on every rerun.
    unversioned = any(not use.version for use in uses)
    return [
        {
            # The counts first: on a phone they show before the table scrolls sideways.
            "version": "none"
            if not use.version
            else str(use.version)
            if unversioned
            else use.version,
            "votes": use.votes,
            "skips": use.skips,
            "agree with the others' majority": None
            if use.agreement is None
            else f"{use.agreement:.0%} of {use.judged:,}",
            "published": local(use.created_at) if use.created_at else "",
            "by": use.created_by or "",
            "changed": ", ".join(use.changed),
            "note": use.note,
        }
        for use in uses
    ]
