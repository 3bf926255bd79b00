"""Annotate: one image, eight mood keys, skip and undo. Votes are blind."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.storage import ContentStore
from moodlab.images.full_size import full_image
from moodlab.images.intake import display_path
from moodlab.ui import access, guidelines_view, session
from moodlab.ui.annotator import annotator, data_url, full_size_url
from moodlab.ui.text import plain
from moodlab.votes import annotation, guidelines

actor = access.require_role(Role.ANNOTATOR, Role.LEAD)
settings = session.settings()
store = ContentStore(settings.data_dir)
# Images the server offers the browser on every rerun: enough that a fast annotator
# (a key every 30 ms) does not run out before the rerun their answers cause comes back.
# Each image's data goes to the browser once (SENT), so a long queue costs little. An
# answer now also records its guidelines version and its step, so a loaded server can
# fall 40 answers behind a brisk annotator: 60 keeps the widget fed.
AHEAD = 60
SENT = "annotate_sent"  # ids whose display copy this tab's browser has been sent
OUTBOX = "annotate_outbox"  # what this tab's browser sent and what was applied
ZOOM = "annotate_zoom"  # the image whose full resolution the browser asked for


def apply_answers() -> None:
    """Component callback: runs before the rerun draws, with everything the browser sent.

    It acts as the user the database knows now (re-read, not the previous run's actor):
    an expired session or a deactivated account stores nothing.
    """
    widget = st.session_state.get("annotator")
    if widget is None:
        # A send that arrives as the annotator leaves the page: the widget is gone, and
        # its unacknowledged answers stay in the tab's outbox until Annotate shows again.
        return
    sent = widget["outbox"]
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
    widget = st.session_state.get("annotator")
    if widget is None:  # gone with the page: the next Annotate asks again
        return
    asked = widget["missing"]  # {"ask": a counter, so a repeated ask is new, "ids": [...]}
    missing = asked.get("ids") if isinstance(asked, dict) else None
    sent: set[int] = st.session_state.setdefault(SENT, set())
    if isinstance(missing, list):
        sent.difference_update(i for i in missing if isinstance(i, int))


def read_guidelines_first() -> None:
    """Before the first vote, and before the first vote under a new version: the guidelines."""
    with session.database().session() as db:
        unread = guidelines.needs_reading(session=db, actor=actor)
        if unread is None:
            return
        before = guidelines.last_read(session=db, actor=actor)
        examples = guidelines.example_images(db, unread)
    if before is None:
        st.info(
            "Before your first vote: what each mood means, with examples.",
            icon=":material/menu_book:",
        )
    else:
        st.info(
            f"The guidelines changed since you read them (version {before} to"
            f" {unread.version}): please read them again before you go on.",
            icon=":material/menu_book:",
        )
    st.caption(plain(guidelines_view.version_line(unread)))
    guidelines_view.show(unread, examples, settings)
    if st.button("I have read the guidelines: start", type="primary"):
        with session.database().session() as db:
            guidelines.mark_read(session=db, actor=actor, version=unread.version)
        st.rerun()
    st.stop()


def replace_answer(outbox: annotation.Outbox, conflict: annotation.AlreadyAnswered) -> None:
    """The annotator said "replace": as the user the database knows now, by the usual rules."""
    current = session.current_actor()
    if current is None:
        outbox.error = "Your session ended before this answer was stored: log in again."
        return
    try:
        with session.database().session() as db:
            annotation.answer(
                session=db,
                actor=current,
                image_id=conflict.image_id,
                mood=conflict.mood_new,
                settings=settings,
            )
    except MoodlabError as exc:  # frozen or deactivated meanwhile: said, not raised
        outbox.error = str(exc)


def ask_about_conflicts(outbox: annotation.Outbox) -> None:
    """Answers on images answered meanwhile in another tab: replace the first, or keep it."""
    for conflict in list(outbox.conflicts):
        with st.container(border=True):
            st.warning(plain(conflict), icon=":material/tab_duplicate:")
            replace, keep = st.columns(2)
            new = annotation.answer_name(conflict.mood_new)
            if replace.button(f"Replace with {new}", key=f"conflict-replace-{conflict.image_id}"):
                replace_answer(outbox, conflict)
                outbox.conflicts.remove(conflict)
                st.rerun(scope="fragment")
            now = annotation.answer_name(conflict.mood_now)
            if keep.button(f"Keep {now}", key=f"conflict-keep-{conflict.image_id}"):
                outbox.conflicts.remove(conflict)
                st.rerun(scope="fragment")


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
    ask_about_conflicts(outbox)
    with session.database().session() as db:
        queue = annotation.next_images(
            session=db, actor=actor, settings=settings, limit=AHEAD, first=outbox.undone
        )
        done = annotation.progress(session=db, actor=actor, settings=settings)
        can_undo = annotation.can_undo(session=db, actor=actor)
        current = guidelines.current(db)
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
            "moods": [
                {"name": m.name, "key": m.key, "definition": current.moods[m.name].definition}
                for m in moods.all_moods()
            ],
            "guidelines_version": current.version,
            "undone": outbox.undone,
            "counts": f"Today {done.today} · in total {done.total}"
            f" · {done.left} image{'' if done.left == 1 else 's'} left",
            # Shown where there is a keyboard; on a phone the buttons say it all.
            "keys": "keys: 1-8 vote · key 0 = skip · U = undo · ? = guidelines · Z = zoom",
            "zoom": zoomed(),
            "acked": outbox.acked,
            "left": done.left,  # more to come: the widget shows "loading", not "done"
            # The browser keeps its unsent answers per owner: a new login starts clean.
            "owner": f"{actor.id}:{id(outbox)}",
            "can_undo": can_undo,
            "error": outbox.error,
        },
        on_outbox_change=apply_answers,
        on_missing_change=resend_missing,
        on_zoom_change=zoom_requested,
    )
    sent.update(image.id for image in queue)


read_guidelines_first()
annotate()
