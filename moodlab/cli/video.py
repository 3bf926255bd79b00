"""`moodlab video make|list`: videos with music that fits their mood."""

from __future__ import annotations

import argparse
from pathlib import Path

from moodlab.cli.common import (
    Report,
    Subcommands,
    actor,
    command,
    detachable,
    group,
    open_database,
    run_here,
)

# Each command imports its services when it runs: a command imports only what it needs.

# The keys `video make --json` promises (docs/cli.md), in this order.
MAKE_KEYS = (
    "output",
    "mood",
    "confidence",
    "tracks",
    "timeline",
    "seconds",
    "warnings",
    "video_id",
)


def register(sub: Subcommands) -> None:
    from moodlab.video.request import FITS, VideoParams

    video = group(sub, "video", "videos with music that fits their mood")
    make_ = command(
        video,
        "make",
        "one video, or photos for a slideshow, with matching music (a job: an idle"
        " worker on this machine runs it, else this process)",
        make,
    )
    detachable(make_)
    make_.add_argument("inputs", nargs="+", metavar="INPUT", help="a video file, or image files")
    make_.add_argument("--out", metavar="OUT.mp4", help="where to write it (default: data/videos)")
    make_.add_argument("--model", type=int, metavar="ID", help="model id (default: the active one)")
    make_.add_argument(
        "--sample-fps", type=float, help="frames a second to predict (MOODLAB_VIDEO_SAMPLE_FPS)"
    )
    make_.add_argument(
        "--segments", action="store_true", help="a mood and track per scene (cuts, >= ~8 s)"
    )
    make_.add_argument(
        "--seed",
        type=int,
        default=VideoParams.default("seed"),
        help="breaks ties between tracks (0)",
    )
    make_.add_argument(
        "--keep-audio", action="store_true", help="keep the original sound, ducked under the music"
    )
    make_.add_argument(
        "--fit",
        choices=FITS,
        default=VideoParams.default("fit"),
        help="a slideshow's photos of another shape: fill the frame, cropped (default),"
        " or pad: whole, on black",
    )
    make_.add_argument(
        "--here", action="store_true", help="run it in this process even when an idle worker could"
    )
    command(video, "list", "generated videos, newest first", list_made)


def make(args: argparse.Namespace) -> Report:
    from moodlab.video.actions import start_video
    from moodlab.video.request import VideoParams

    inputs = {str(Path(p).expanduser().resolve()): p for p in args.inputs}
    out = str(Path(args.out).expanduser().resolve()) if args.out else None  # a worker's cwd differs
    params = VideoParams(
        inputs=list(inputs),
        names=inputs,
        out=out,
        model_id=args.model,
        sample_fps=args.sample_fps,
        segments=args.segments,
        seed=args.seed,
        keep_audio=args.keep_audio,
        fit=args.fit,
    )
    report = run_here(start_video, params=params, hand_off=not args.here, detach=args.detach)
    if not args.json:  # a person reads the outcome; the timeline is for scripts and the page
        return {key: report[key] for key in MAKE_KEYS if key != "timeline"} | {
            "mode": report.get("mode")
        }
    return {key: report[key] for key in MAKE_KEYS} | {
        k: v for k, v in report.items() if k not in MAKE_KEYS
    }


def list_made(args: argparse.Namespace) -> Report:
    from moodlab.video.history import list_videos, video_row

    _, database = open_database()
    with database.session() as session:
        videos = list_videos(session=session, actor=actor())
        return {"videos": [video_row(v) for v in videos]}
