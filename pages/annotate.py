"""Annotate: one image, eight mood keys, skip and undo. Votes are blind."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.models import Role
from moodlab.core.storage import ContentStore
from moodlab.images.intake import display_path
from moodlab.ui import session
from moodlab.ui.annotator import annotator, data_url
from moodlab.votes import annotation

actor = session.require_role(Role.ANNOTATOR, Role.LEAD)
settings = session.settings()
store = ContentStore(settings.data_dir)
AHEAD = 4  # images the browser holds ready: the one shown and three more
OUTBOX = "annotate_outbox"  # what this tab's browser sent and what was applied


def apply_answers() -> None:
    """Component callback: runs before the rerun draws, with everything the browser sent.

    It acts as the user the database knows now (re-read, not the previous run's actor):
    an expired session or a deactivated account stores nothing.
    """
    sent = st.session_state["annotator"]["outbox"]
    outbox = st.session_state.setdefault(OUTBOX, annotation.Outbox())
    current = session.current_actor()
    if current is None:
        outbox.error = "Your session ended before these answers were stored: log in again."
        return
    annotation.apply_outbox(
        session_factory=session.database().session, actor=current, outbox=outbox,
        entries=sent, settings=settings,
    )  # fmt: skip


@st.fragment
def annotate() -> None:
    outbox = st.session_state.setdefault(OUTBOX, annotation.Outbox())
    with session.database().session() as db:
        queue = annotation.next_images(
            session=db, actor=actor, settings=settings, limit=AHEAD, first=outbox.undone
        )
        done = annotation.progress(session=db, actor=actor, settings=settings)
    annotator(
        key="annotator",
        data={
            "queue": [
                {"id": image.id, "src": data_url(display_path(store, image.sha256))}
                for image in queue
            ],
            "moods": [{"name": m.name, "key": m.key} for m in moods.all_moods()],
            "progress": f"Today {done.today} · in total {done.total} · {done.left} images left"
            " · keys 1-8 vote, 0 skips, U undoes",
            "acked": outbox.acked,
            # The browser keeps its unsent answers per owner: a new login starts clean.
            "owner": f"{actor.id}:{id(outbox)}",
            "can_undo": bool(outbox.undo_stack),
            "error": outbox.error,
        },
        on_outbox_change=apply_answers,
    )


annotate()
