"""Video (everyone): a video or photos in, the same footage with fitting music out."""

import pandas as pd
import streamlit as st

from moodlab.core import moods
from moodlab.core.errors import MoodlabError
from moodlab.core.models import JobStatus, Role
from moodlab.images.formats import IMAGE_EXTENSIONS
from moodlab.jobs import queue as jobs
from moodlab.training.registry import list_models
from moodlab.ui import access, charts, forms, jobs_view, session, uploads
from moodlab.ui.files import frame_url, video_url
from moodlab.ui.text import plain
from moodlab.ui.times import local
from moodlab.video import timeline
from moodlab.video.history import get_video, list_videos, video_file
from moodlab.video.request import FITS, VideoParams
from moodlab.video.result import VideoResult
from moodlab.video.scenes import MIN_SEGMENT_S
from moodlab.video.uploads import VIDEO_EXTENSIONS, start_upload_video

actor = access.require_role(Role.LEAD, Role.ANNOTATOR)
FIT_NAMES = {"fill": "fill the frame (edges cropped)", "pad": "whole photo (black bars)"}
settings = session.settings()

st.title("Video")
st.caption(
    "Drop in a video or a few photos: moodlab samples frames, predicts their mood and"
    " gives the footage back with music that fits. The picture is copied, not re-encoded."
)
with session.database().session() as db:
    registry = list_models(session=db, actor=actor)

if not registry:
    st.info(
        "No trained model yet: the lead trains one on the Training page (or with"
        " `moodlab train`); then videos can be made here."
    )
else:
    # Kept fields, not an st.form: the choices stay as they were after Generate and when
    # the page is opened again (a form cleared them all); only the files go.
    fields = forms.Kept("video", actor)
    files = uploads.file_uploader(
        "A video, or several photos for a slideshow",
        max_bytes=settings.video_max_bytes,
        type=[s.lstrip(".") for s in (*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS)],
        accept_multiple_files=True,
        key=f"video-files-{st.session_state.get('video_files_round', 0)}",
    )
    model_col, fps_col, seed_col = st.columns(3)
    ids = [m.id for m in registry]
    active = next((m.id for m in registry if m.active), ids[0])
    model_id = model_col.selectbox(
        "Model",
        ids,
        format_func=lambda i: next(
            f"#{m.id} {m.arch}" + (" (active)" if m.active else "") for m in registry if m.id == i
        ),
        **fields.choice("model", ids, active),
    )
    fps = fps_col.number_input(
        "Frames sampled per second",
        0.1,
        30.0,
        step=0.5,
        **fields("fps", float(settings.video_sample_fps)),
    )
    seed = seed_col.number_input(
        "Seed", 0, 1_000_000, help="picks among equal tracks", **fields("seed", 0)
    )
    segments = st.checkbox(
        "A mood and track per scene",
        help=f"split at scene cuts; a scene shorter than {MIN_SEGMENT_S:g} s joins its"
        " neighbour, so a track has time to establish itself",
        **fields("segments", False),
    )
    keep_audio = st.checkbox(
        "Keep the original sound (ducked under the music)", **fields("keep_audio", False)
    )
    fit = st.radio(
        "Photos of another shape than the slideshow's frame",
        FITS,
        format_func=FIT_NAMES.get,
        horizontal=True,
        **fields("fit", VideoParams.default("fit")),
    )
    if st.button("Generate", type="primary", icon=":material/movie:"):
        try:
            params = VideoParams(
                model_id=int(model_id),
                sample_fps=float(fps),
                segments=segments,
                seed=int(seed),
                keep_audio=keep_audio,
                fit=fit,
            )
            with session.database().session() as db:
                job_id = start_upload_video(
                    session=db,
                    actor=actor,
                    settings=settings,
                    files=[(f.name, f) for f in files or []],
                    params=params,
                ).id
            st.session_state["video_job"] = job_id
            st.session_state["video_files_round"] = st.session_state.get("video_files_round", 0) + 1
            st.rerun()
        except MoodlabError as exc:
            st.error(plain(exc))


@st.fragment(run_every="2s")
def progress() -> None:
    job_id = st.session_state.get("video_job")
    if job_id is None:
        return
    with session.database().session() as db:
        job = jobs.get_job(session=db, actor=actor, job_id=job_id)
    jobs_view.job_card(job, actor)
    if job.status == JobStatus.SUCCEEDED and st.session_state.get("video_shown") != job_id:
        st.session_state["video_shown"] = job_id  # show the new video below, once
        st.session_state["video_new"] = VideoResult.from_json(job.result).video_id
        st.rerun(scope="app")


progress()

with session.database().session() as db:
    # The history's columns only: a report (its timeline grows with the video's length)
    # is read for the one video on screen.
    videos = list_videos(session=db, actor=actor, reports=False)
if not videos:
    st.caption("No videos yet.")
    st.stop()

by_id = {v.id: v for v in videos}
# A new video is picked by setting the widget's own key: the selectbox then reads it too
# (dropping the key instead left the box showing the old title over the new player).
if (new := st.session_state.pop("video_new", None)) in by_id:
    st.session_state["video_pick"] = new
elif st.session_state.get("video_pick") not in by_id:
    st.session_state.pop("video_pick", None)
picked = st.selectbox(
    "Show video",
    list(by_id),
    key="video_pick",
    format_func=lambda i: f"#{i} {by_id[i].title} · {by_id[i].mood} · {local(by_id[i].created_at)}",
)
with session.database().session() as db:
    video = get_video(session=db, actor=actor, video_id=picked)
report = video.report
path = video_file(settings, video)

player, facts = st.columns([3, 2])
if not path.exists():
    player.warning(plain(f"The file {path} is gone."))
elif not path.resolve().is_relative_to(settings.data_dir.resolve()):
    player.info(plain(f"Written by the command line outside the data dir: {path}"))
else:
    # Addresses, not bytes: the browser streams the video (and seeks with range requests)
    # and the download reads nothing until it is clicked (moodlab/ui/files.py).
    player.video(video_url(video.id))
    player.link_button("Download", video_url(video.id, download=True), icon=":material/download:")
facts.metric("Mood", video.mood, help="highest mean probability over the samples")
facts.metric("Confidence", f"{video.confidence:.0%}")
facts.caption(
    f"{video.duration_s:.1f} s {video.kind} · model #{video.model_id}"
    f" (snapshot #{video.snapshot_id}) · made in {video.seconds:.1f} s"
)
tracks = pd.DataFrame(report.get("tracks", []))
if not tracks.empty:
    facts.dataframe(tracks, hide_index=True)
if mode := report.get("mode"):
    st.info(plain(mode[0].upper() + mode[1:] + "."), icon=":material/tune:")
for warning in report.get("warnings", []):
    st.warning(plain(warning), icon=":material/warning:")
if flat := timeline.near_uniform(report.get("timeline", [])):
    st.warning(flat, icon=":material/blur_on:")

st.subheader("Mood over time")
segments = report.get("segments", [])
# Drawn each run: a long video's timeline is more rows than a kept spec may inline
# (Altair's 5,000), which st.altair_chart hands to the browser apart.
st.altair_chart(
    charts.mood_timeline(
        report.get("timeline", []),
        moods=moods.names(),
        chosen=video.mood,
        boundaries=[s["start_s"] for s in segments[1:]],
        duration=video.duration_s,
        steps=video.kind == "slideshow",
    ),
    width="stretch",
)

st.subheader("Sampled frames")
kept = report.get("frames", [])
if not kept:
    st.caption("No sampled frames were kept for this video.")
grid = st.columns(6)
for i, frame in enumerate(kept):
    caption = f"{frame['t']:.1f} s · {frame['mood']} {frame['probability']:.0%}"
    if (settings.data_dir / frame["path"]).exists():
        grid[i % 6].image(frame_url(video.id, i), caption=plain(caption), width="stretch")

st.subheader("History")
st.dataframe(
    pd.DataFrame(
        [
            {
                "id": v.id,
                "input": v.title,
                "kind": v.kind,
                "mood": v.mood,
                "confidence": round(v.confidence, 3),
                "seconds long": round(v.duration_s, 1),
                "model": v.model_id,
                "made": local(v.created_at),
            }
            for v in videos
        ]
    ),
    hide_index=True,
)
