"""Music votes: listen to a track and vote the mood it fits, or "not usable"."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.music import votes as track_votes
from moodlab.music.blind import seed_of
from moodlab.music.files import track_key
from moodlab.ui import access, session
from moodlab.ui.files import track_url
from moodlab.ui.text import plain

actor = access.require_role(Role.ANNOTATOR, Role.LEAD)
settings: Settings = session.settings()

st.title("Music votes")
st.caption(
    "Which mood does this track fit? Keys 1-8 vote, 9 means not usable, U undoes. A vote is"
    " final once you vote on the next track or open the Music page."
)
UNDO = "music_undo"  # this tab's last vote, for undo while it is not final


def record(track_id: int, mood: str | None) -> None:
    """Button callback: acts as the user the database knows now (not the last run's actor)."""
    current = session.current_actor()
    if current is None:
        st.session_state["music_error"] = "Your session ended: the vote was not stored."
        return
    try:
        with session.database().session() as db:
            previous = track_votes.vote_track(
                session=db, actor=current, settings=settings, track_id=track_id, mood=mood
            )
        st.session_state[UNDO] = previous
        st.session_state.pop("music_undone", None)
    except MoodlabError as exc:
        st.session_state["music_error"] = str(exc)


def undo_last() -> None:
    current = session.current_actor()
    previous = st.session_state.pop(UNDO, None)
    if current is None or previous is None:
        return
    try:
        with session.database().session() as db:
            track_votes.undo_track_vote(
                session=db, actor=current, settings=settings, previous=previous
            )
        st.session_state["music_undone"] = previous.track_id
    except MoodlabError as exc:
        st.session_state["music_error"] = str(exc)


@st.fragment
def vote() -> None:
    with session.database().session() as db:
        track = track_votes.next_track(
            session=db, actor=actor, first=st.session_state.get("music_undone")
        )
        left = track_votes.tracks_left(session=db, actor=actor)
        last = st.session_state.get(UNDO)
        # The service decides: a vote left behind or whose results were seen is final.
        can_undo = last is not None and track_votes.can_undo(session=db, actor=actor, previous=last)
        key = track_key(seed_of(db, actor), track.id) if track is not None else ""
    if error := st.session_state.pop("music_error", None):
        st.error(plain(error))
    if track is None:
        st.success("No track is waiting for your vote.")
        if can_undo:
            st.button("Undo my last vote", key="track-undo", shortcut="u", on_click=undo_last)
        return
    st.caption(f"{left} track{'s' if left != 1 else ''} left")
    # Blind: a name of this annotator's own, never the title (the mood a generated track
    # was made for) nor the id (the default library's ids run in mood order).
    st.subheader(plain(track.name))
    st.audio(track_url(key))
    if track.license:
        st.caption(plain(f"Licence: {track.license}"))
    # Two rows in circle order, as on the Annotate page, so no label is cut off; the
    # shortcut hint beside each label shows its key.
    half = len(moods.all_moods()) // 2
    for row in (moods.all_moods()[:half], moods.all_moods()[half:]):
        for column, mood in zip(st.columns(half), row, strict=True):
            column.button(
                mood.name,
                key=f"track-{mood.name}",
                shortcut=mood.key,
                on_click=record,
                args=(track.id, mood.name),
                width="stretch",
            )
    unusable, undo, _ = st.columns([1, 1, 2])
    unusable.button(
        "Not usable",
        key="track-unusable",
        shortcut="9",
        on_click=record,
        args=(track.id, None),
        width="stretch",
    )
    undo.button(
        "Undo",
        key="track-undo",
        shortcut="u",
        on_click=undo_last,
        disabled=not can_undo,
        width="stretch",
    )


vote()
