"""Music votes: listen to a track and vote the mood it fits, or "not usable"."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.models import Role
from moodlab.music import votes as track_votes
from moodlab.music.vote_outbox import LISTEN_S, TrackOutbox, apply_track_outbox
from moodlab.ui import access, session
from moodlab.ui.files import track_url
from moodlab.ui.track_voter import track_voter

actor = access.require_role(Role.ANNOTATOR, Role.LEAD)
settings: Settings = session.settings()

st.title("Music votes")
st.caption(
    f"Which mood does this track fit? Listen first: the buttons open after {LISTEN_S:.0f} s of"
    " it (or its end). A vote is final once you vote on the next track or open the Music page."
)
OUTBOX = "music_outbox"  # what this tab's browser sent and what was applied
# Tracks the browser holds: the next one's audio is fetched while this one plays.
AHEAD = 4


def apply_votes() -> None:
    """Component callback: acts as the user the database knows now (not the last run's)."""
    outbox = st.session_state.setdefault(OUTBOX, TrackOutbox())
    current = session.current_actor()
    if current is None:
        outbox.error = "Your session ended before this vote was stored: log in again."
        return
    apply_track_outbox(
        session_factory=session.database().session,
        actor=current,
        settings=settings,
        outbox=outbox,
        entries=st.session_state["track_voter"]["outbox"],
    )


@st.fragment
def vote() -> None:
    outbox = st.session_state.setdefault(OUTBOX, TrackOutbox())
    with session.database().session() as db:
        # Blind: a name of this annotator's own, never the title (the mood a generated
        # track was made for) nor the id (the default library's ids run in mood order).
        queue = track_votes.next_tracks(session=db, actor=actor, limit=AHEAD, first=outbox.undone)
        left = track_votes.tracks_left(session=db, actor=actor)
        # The service decides: a vote left behind or whose results were seen is final.
        last = outbox.last
        can_undo = last is not None and track_votes.can_undo(session=db, actor=actor, previous=last)
    track_voter(
        key="track_voter",
        data={
            "queue": [
                {
                    "id": track.id,
                    "name": track.name,
                    "src": track_url(track.code),
                    "duration_s": track.duration_s,
                    "license": track.license,
                }
                for track in queue
            ],
            "first": outbox.undone,
            "moods": [{"name": m.name, "key": m.key} for m in moods.all_moods()],
            "counts": f"{left} track{'' if left == 1 else 's'} left",
            "keys": "keys: 1-8 vote · key 9 = not usable · U = undo",
            "listen_s": LISTEN_S,
            "acked": outbox.acked,
            "left": left,
            "owner": f"{actor.id}:{id(outbox)}",
            "can_undo": can_undo,
            "error": outbox.error,
        },
        on_outbox_change=apply_votes,
    )


vote()
