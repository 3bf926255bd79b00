"""Music votes: listen to a track and vote the mood it fits, or "not usable"."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.music import votes as track_votes
from moodlab.ui import session
from moodlab.ui.text import plain

actor = session.require_role(Role.ANNOTATOR, Role.LEAD)
settings: Settings = session.settings()

st.title("Music votes")
st.caption("Which mood does this track fit? Keys 1-8 vote, 9 means not usable.")


def record(track_id: int, mood: str | None) -> None:
    try:
        with session.database().session() as db:
            track_votes.vote_track(
                session=db, actor=actor, settings=settings, track_id=track_id, mood=mood
            )
    except MoodlabError as exc:
        st.session_state["music_error"] = str(exc)


@st.fragment
def vote() -> None:
    with session.database().session() as db:
        track = track_votes.next_track(session=db, actor=actor)
    if error := st.session_state.pop("music_error", None):
        st.error(plain(error))
    if track is None:
        st.success("No track is waiting for your vote.")
        return
    st.subheader(plain(track.title or track.path))
    st.audio(str(settings.music_dir / track.path))
    if track.license:
        st.caption(plain(f"Licence: {track.license}"))
    # Two rows in circle order, as on the Annotate page, so no label is cut off; the
    # shortcut hint beside each label shows its key.
    half = len(moods.all_moods()) // 2
    for row in (moods.all_moods()[:half], moods.all_moods()[half:]):
        for column, mood in zip(st.columns(half), row, strict=True):
            column.button(
                mood.name, key=f"track-{mood.name}", shortcut=mood.key,
                on_click=record, args=(track.id, mood.name), width="stretch",
            )  # fmt: skip
    unusable, _ = st.columns([1, 3])
    unusable.button(
        "Not usable", key="track-unusable", shortcut="9", on_click=record,
        args=(track.id, None), width="stretch",
    )  # fmt: skip


vote()
