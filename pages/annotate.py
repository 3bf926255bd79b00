"""Annotate: one image, eight mood keys, skip and undo. Votes are blind."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.storage import ContentStore
from moodlab.images.full_size import full_image
from moodlab.images.intake import display_path
from moodlab.ui import access, session
from moodlab.ui.annotator import annotator, data_url, full_size_url
from moodlab.votes import annotation

actor = access.require_role(Role.ANNOTATOR, Role.LEAD)
settings = session.settings()
store = ContentStore(settings.data_dir)
# Images the server offers the browser on every rerun: enough that a fast annotator
# (a key every 30 ms) does not run out before the rerun their answers cause comes back.
# Each image's data goes to the browser once (SENT), so a long queue costs little.
AHEAD = 40
SENT = "annotate_sent"  # ids whose display copy this tab's browser has been sent
OUTBOX = "annotate_outbox"  # what this tab's browser sent and what was applied
ZOOM = "annotate_zoom"  # the image whose full resolution the browser asked for


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
        session_factory=session.database().session,
        actor=current,
        outbox=outbox,
        entries=sent,
        settings=settings,
    )


def resend_missing() -> None:
    """Component callback: the browser lacks these images (an update it lost): send again."""
    missing = st.session_state["annotator"]["missing"]
    sent: set[int] = st.session_state.setdefault(SENT, set())
    if isinstance(missing, list):
        sent.difference_update(i for i in missing if isinstance(i, int))


def zoom_requested() -> None:
    """Component callback: the annotator tapped the image; its original goes with the rerun."""
    requested = st.session_state["annotator"]["zoom"]
    if isinstance(requested, int):
        st.session_state[ZOOM] = requested


def zoomed() -> dict | None:
    """The full-resolution copy asked for, sent once (it may be megabytes)."""
    requested = st.session_state.pop(ZOOM, None)
    if requested is None:
        return None
    try:
        with session.database().session() as db:
            found = full_image(session=db, actor=actor, store=store, image_id=requested)
    except (MoodlabError, OSError):
        return None  # the view keeps the display copy and says it is loading
    return {"id": found.image_id, "src": full_size_url(found.media_type, found.data)}


@st.fragment
def annotate() -> None:
    outbox = st.session_state.setdefault(OUTBOX, annotation.Outbox())
    sent: set[int] = st.session_state.setdefault(SENT, set())
    with session.database().session() as db:
        queue = annotation.next_images(
            session=db, actor=actor, settings=settings, limit=AHEAD, first=outbox.undone
        )
        done = annotation.progress(session=db, actor=actor, settings=settings)
    annotator(
        key="annotator",
        data={
            "queue": [
                {
                    "id": image.id,
                    "src": None
                    if image.id in sent
                    else data_url(display_path(store, image.sha256)),
                }
                for image in queue
            ],
            "moods": [{"name": m.name, "key": m.key} for m in moods.all_moods()],
            "counts": f"Today {done.today} · in total {done.total}"
            f" · {done.left} image{'' if done.left == 1 else 's'} left",
            # Shown where there is a keyboard; on a phone the buttons say it all.
            "keys": "keys: 1-8 vote · key 0 = skip · U = undo · Z = zoom",
            "zoom": zoomed(),
            "acked": outbox.acked,
            "left": done.left,  # more to come: the widget shows "loading", not "done"
            # The browser keeps its unsent answers per owner: a new login starts clean.
            "owner": f"{actor.id}:{id(outbox)}",
            "can_undo": bool(outbox.undo_stack),
            "error": outbox.error,
        },
        on_outbox_change=apply_answers,
        on_missing_change=resend_missing,
        on_zoom_change=zoom_requested,
    )
    sent.update(image.id for image in queue)


annotate()
