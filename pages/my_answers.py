"""My answers: my own answers, newest first, to change or withdraw until frozen."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.models import Role
from moodlab.core.storage import ContentStore
from moodlab.images.intake import thumbnail_path
from moodlab.ui import access, layout, session
from moodlab.ui.files import thumbnail_url
from moodlab.ui.times import local
from moodlab.votes import annotation, mine

actor = access.require_role(Role.ANNOTATOR, Role.LEAD)
settings = session.settings()
store = ContentStore(settings.data_dir)
SHOWN = "my_answers_shown"  # how many answers this tab shows: "Show more" adds a page
shown = st.session_state.setdefault(SHOWN, mine.PAGE_SIZE)
with session.database().session() as db:
    answers = mine.my_answers(session=db, actor=actor, limit=shown)
    total = mine.count_mine(session=db, actor=actor)
    undoable = annotation.can_undo(session=db, actor=actor)

st.title("My answers")
st.caption(
    "Your own answers, newest first. Change or withdraw any of them until its image is"
    " frozen into a data set; each change is kept on record. A withdrawn image comes back"
    " to your queue on Annotate."
)
if st.button("Undo my last answer", icon=":material/undo:", disabled=not undoable):
    layout.act(lambda db: annotation.undo(session=db, actor=actor, settings=settings), "Undone")
if not answers:
    st.info("You have not answered any image yet.")

CHOICES = [*moods.names(), annotation.SKIP]


def answer_label(choice: str) -> str:
    return "Skip (no mood)" if choice == annotation.SKIP else choice


for item in answers:
    with st.container(border=True):
        picture, facts, actions = st.columns([1, 2, 3], vertical_alignment="center")
        if thumbnail_path(store, item.sha256).exists():
            picture.image(thumbnail_url(item.sha256), width=96)
        given = annotation.answer_name(item.mood)
        facts.markdown(f"**{given}** · image {item.image_id}")
        version = f"guidelines v{item.guidelines_version}" if item.guidelines_version else ""
        changed = f"changed {item.changes}x" if item.changes else ""
        when = local(item.answered_at)
        facts.caption(" · ".join(part for part in (when, version, changed) if part))
        if item.frozen:
            actions.caption(":material/lock: Frozen into a data set: read-only.")
            continue
        current = item.mood or annotation.SKIP
        with actions.container(horizontal=True, vertical_alignment="bottom"):
            choice = st.selectbox(
                f"Answer on image {item.image_id}",
                CHOICES,
                index=CHOICES.index(current),
                format_func=answer_label,
                key=f"mine-choice-{item.image_id}",
                label_visibility="collapsed",
            )
            image_id = item.image_id
            if st.button("Change", key=f"mine-change-{image_id}", disabled=choice == current):
                layout.act(
                    lambda db, image_id=image_id, choice=choice: annotation.answer(
                        session=db, actor=actor, image_id=image_id, mood=choice, settings=settings
                    ),
                    f"Image {image_id}: changed to {answer_label(choice)}",
                )
            if st.button("Withdraw", key=f"mine-withdraw-{image_id}"):
                layout.act(
                    lambda db, image_id=image_id: annotation.withdraw(
                        session=db, actor=actor, image_id=image_id
                    ),
                    f"Image {image_id}: answer withdrawn, it is back in your queue",
                )
if total > len(answers):
    st.caption(f"{len(answers)} of {total:,} answers shown.")
    if st.button("Show more"):
        st.session_state[SHOWN] = shown + mine.PAGE_SIZE
        st.rerun()
