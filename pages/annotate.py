"""Annotate: one image, eight mood keys, skip and undo. Votes are blind."""

import streamlit as st

from moodlab import annotation, moods
from moodlab.errors import MoodlabError
from moodlab.intake import display_path
from moodlab.models import Role
from moodlab.storage import ContentStore
from moodlab.ui import session

actor = session.require_role(Role.ANNOTATOR, Role.LEAD)
settings = session.settings()
store = ContentStore(settings.data_dir)
MAX_IMAGE_HEIGHT = 560  # px: image plus buttons fit a 900 px high window
PAGE_WIDTH = 1150  # px: about the wide layout's content width on a laptop
UNDO = "annotate_undo"  # the stack of what each answer replaced, newest last


def record(image_id: int, mood: str | None) -> None:
    """Button callback: runs before the rerun draws, so the next image shows in one step."""
    try:
        with session.database().session() as db:
            previous = annotation.answer(session=db, actor=actor, image_id=image_id, mood=mood)
        st.session_state.setdefault(UNDO, []).append(previous)
    except MoodlabError as exc:
        st.session_state["annotate_error"] = str(exc)


def undo_last() -> None:
    stack = st.session_state.get(UNDO) or []
    if not stack:
        return
    try:
        with session.database().session() as db:
            annotation.undo(session=db, actor=actor, previous=stack[-1])
        stack.pop()
    except MoodlabError as exc:
        st.session_state["annotate_error"] = str(exc)


@st.fragment
def annotate() -> None:
    with session.database().session() as db:
        image = annotation.next_image(session=db, actor=actor, settings=settings)
        done = annotation.progress(session=db, actor=actor, settings=settings)
    st.caption(
        f"Today **{done.today}** · in total **{done.total}** · **{done.left}** images left"
        " · keys 1-8 vote, 0 skips, U undoes"
    )
    if error := st.session_state.pop("annotate_error", None):
        st.error(error)
    if image is None:
        st.success("Nothing is waiting for your vote. Thank you!")
    else:
        # As large as fits a laptop screen with the buttons still in view. The column,
        # not st.image's width, sets the size: a width makes Streamlit resize and
        # re-encode the picture on every vote.
        share = min(0.98, MAX_IMAGE_HEIGHT * image.width / image.height / PAGE_WIDTH)
        picture, _ = st.columns([share, 1 - share])
        picture.image(str(display_path(store, image.sha256)), width="stretch")
        # Two rows in circle order: the aroused half of the circle above, the calm half below.
        half = len(moods.all_moods()) // 2
        for row in (moods.all_moods()[:half], moods.all_moods()[half:]):
            for column, mood in zip(st.columns(half), row, strict=True):
                column.button(
                    mood.name, key=f"mood-{mood.name}", shortcut=mood.key,
                    on_click=record, args=(image.id, mood.name), width="stretch",
                )  # fmt: skip
    skip, undo, _ = st.columns([1, 1, 2])
    if image is not None:
        skip.button("Skip", key="skip", shortcut="0", on_click=record, args=(image.id, None),
                    width="stretch")  # fmt: skip
    undo.button(
        "Undo", key="undo", shortcut="u", on_click=undo_last, icon=":material/undo:",
        disabled=not st.session_state.get(UNDO), width="stretch",
    )  # fmt: skip


annotate()
