"""Music: the track library by mood, with players, status, votes and licences."""

import streamlit as st

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import JobStatus, Role, TrackStatus
from moodlab.jobs import queue as jobs
from moodlab.music import library
from moodlab.music.actions import generation_job, start_generate
from moodlab.music.files import track_keys
from moodlab.ui import access, jobs_view, session, uploads
from moodlab.ui.files import track_url
from moodlab.ui.text import plain

actor = access.require_role(Role.ANNOTATOR, Role.LEAD)
settings = session.settings()

STATUS_BADGES = {
    TrackStatus.ACCEPTED: ("accepted", "green", ":material/check_circle:"),
    TrackStatus.GENERATED: ("generated", "blue", ":material/auto_awesome:"),
    TrackStatus.CANDIDATE: ("candidate", "orange", ":material/hourglass_top:"),
    TrackStatus.REJECTED: ("rejected", "red", ":material/block:"),
}

st.title("Music")
st.caption(
    "Background tracks for videos, by mood. A track is accepted for a mood when"
    f" {settings.train_quorum} annotators vote for it on the Music votes page."
)

with session.database().session() as db:
    # Blind: an annotator sees a track's title, status, mood and votes only once their vote
    # on it is final; opening this page makes their votes so far final (the service's rule).
    shelf = library.shelf(session=db, actor=actor)
    # Players get addresses, not files: the browser fetches only the tracks it plays.
    keys = track_keys(session=db, actor=actor)
    missing = library.missing_default_tracks(session=db, settings=settings)
    generating = generation_job(db) if actor.is_lead else None


def generate() -> None:
    try:
        with session.database().session() as db:
            start_generate(session=db, actor=actor, settings=settings)
    except MoodlabError as exc:
        st.session_state["music_error"] = str(exc)


@st.fragment(run_every=2)
def generation_progress(job_id: int) -> None:
    with session.database().session() as db:
        job = jobs.get_job(session=db, actor=actor, job_id=job_id)
    jobs_view.job_card(job, actor)
    if JobStatus(job.status).finished:
        st.rerun()  # the whole page, to show the new tracks


if generating is not None:
    generation_progress(generating.id)
elif actor.is_lead and missing and settings.music_tracks_per_mood:
    st.info(f"{len(missing)} tracks of the default library are missing.")
    st.button(
        "Generate default library",
        type="primary",
        icon=":material/auto_awesome:",
        on_click=generate,
    )

if actor.is_lead:
    with (
        st.expander("Add a track", icon=":material/upload:"),
        st.form("add-track", clear_on_submit=True),
    ):
        upload = uploads.file_uploader(
            "A music file",
            max_bytes=settings.music_max_bytes,
            type=[s.lstrip(".") for s in library.AUDIO_SUFFIXES],
        )
        mood_col, title_col = st.columns(2)
        mood = mood_col.selectbox("Meant for the mood", ["(none)", *moods.names()])
        title = title_col.text_input("Title", placeholder="default: the file name")
        licence_col, attribution_col = st.columns(2)
        licence = licence_col.text_input("Licence", placeholder="CC-BY-4.0")
        attribution = attribution_col.text_input(
            "Attribution", placeholder="who made it, where from"
        )
        if st.form_submit_button("Add", type="primary") and upload is not None:
            try:
                with session.database().session() as db:
                    track = library.import_upload(
                        session=db,
                        actor=actor,
                        settings=settings,
                        name=upload.name,
                        data=upload,
                        mood=None if mood == "(none)" else mood,
                        title=title or None,
                        license=licence,
                        attribution=attribution,
                    )
                    st.session_state["music_added"] = f"Added “{track.title}” as a candidate."
            except MoodlabError as exc:
                st.session_state["music_error"] = str(exc)
            st.rerun()

if error := st.session_state.pop("music_error", None):
    st.error(plain(error))
if added := st.session_state.pop("music_added", None):
    st.success(plain(added))

if not shelf.known and not shelf.waiting:
    st.info("No tracks yet.")
    st.stop()

known = shelf.known
counts = {s.value: sum(t.status == s for t in known) for s in TrackStatus}
status_names = ["all", *(s.value for s in TrackStatus)]
picked = st.segmented_control(
    "Show",
    status_names,
    default="all",
    key="music-status",
    format_func=lambda s: f"all ({len(known)})" if s == "all" else f"{s} ({counts[s]})",
)
shown = [s.value for s in TrackStatus] if picked in (None, "all") else [picked]


def waiting_row(track) -> None:
    """A track the annotator has not voted on: its blind name and player, nothing more."""
    name_col, player_col, facts_col = st.columns([2, 3, 4], vertical_alignment="center")
    name_col.markdown(f"**{plain(track.name)}**")
    path = settings.music_dir / track.path
    if path.is_file():
        player_col.audio(track_url(keys[track.id]))
    else:
        player_col.warning("The file is missing.")
    facts_col.caption(f"{track.duration_s:.0f} s")
    facts_col.caption("Its mood, status and votes show once you have voted on it.")


def track_row(track) -> None:
    """One track as a table row: title and status, player, facts and votes."""
    label, colour, icon = STATUS_BADGES[TrackStatus(track.status)]
    name_col, player_col, facts_col = st.columns([2, 3, 4], vertical_alignment="center")
    name_col.markdown(f"**{plain(track.title or track.path)}**")
    name_col.badge(label, color=colour, icon=icon)
    path = settings.music_dir / track.path
    if path.is_file():
        player_col.audio(track_url(keys[track.id]))
    else:
        player_col.warning(plain(f"The file {track.path} is missing."))
    facts = [f"{track.duration_s:.0f} s"]
    if track.tempo_bpm:
        facts.append(f"{track.tempo_bpm:.0f} BPM" + ("" if track.is_generated else " (est.)"))
    if track.key:
        facts.append(track.key)
    if track.loudness_lufs is not None:
        facts.append(f"{track.loudness_lufs:.1f} LUFS")
    counted = shelf.votes.get(track.id)
    if counted:
        facts.append("votes: " + ", ".join(f"{m} {n}" for m, n in counted.most_common()))
    elif actor.is_lead:
        facts.append("no votes yet")
    else:
        facts.append("votes show once you have voted on it")
    facts_col.caption(plain(" · ".join(facts)))
    facts_col.caption(
        plain(
            f"Licence: {track.license or 'not recorded'}"
            + (f" · {track.attribution}" if track.attribution else "")
        )
    )


# One table per mood, a row per track: the library's four tracks per mood take four
# short rows (cards three across left one alone per mood and made the page very tall).
if shelf.waiting:  # whatever the status filter: their status is not the annotator's to see
    st.subheader(f"Not voted by you yet ({len(shelf.waiting)} left on Music votes)")
    with st.container(border=True):
        for i, blind_track in enumerate(shelf.waiting):
            if i:
                st.divider()
            waiting_row(blind_track)
groups = [(m.name, [t for t in known if t.mood == m.name]) for m in moods.all_moods()]
groups.append(("No mood yet", [t for t in known if t.mood is None]))
for name, members in groups:
    members = [t for t in members if t.status in (shown or [])]
    if not members:
        continue
    st.subheader(f"{name} ({len(members)})")
    with st.container(border=True):
        for i, track in enumerate(members):
            if i:
                st.divider()
            track_row(track)
