"""The output video: the input's video stream copied unchanged, with the new audio.

Copying the stream takes well under a second for any length and loses nothing.
Only a codec the MP4 container cannot hold is re-encoded (libx264). The length
is set with -t, not -shortest, which is known to drop or cut copied video.
"""

from __future__ import annotations

from pathlib import Path

from moodlab.core import processes
from moodlab.video.probe import MediaInfo, VideoError, ffmpeg_exe

# Video codecs (ffmpeg's names) that go into an MP4 as they are.
MP4_VIDEO_CODECS = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4", "mpeg2video", "mpeg1video"})
# How loud the original soundtrack stays under the music when it is kept (-9 dB).
DUCKED_VOLUME = 0.35


def can_copy(codec: str | None) -> bool:
    return codec in MP4_VIDEO_CODECS


def mux(
    video: MediaInfo, soundtrack: Path, out: Path, *, duration: float, keep_audio: bool = False
) -> bool:
    """Write ``out`` (MP4, faststart); True when the video had to be re-encoded."""
    copy = can_copy(video.video_codec)
    if copy:
        video_args = ["-c:v", "copy"]
        if video.video_codec == "hevc":
            video_args += ["-tag:v", "hvc1"]  # what Apple players need to play HEVC in MP4
    else:
        video_args = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
    if keep_audio and video.audio_codec:
        audio_args = [
            "-filter_complex",
            f"[0:a:0]volume={DUCKED_VOLUME},apad[orig];"
            "[1:a:0][orig]amix=inputs=2:duration=first:normalize=0[mixed]",
            "-map",
            "0:v:0",
            "-map",
            "[mixed]",
        ]
    else:
        audio_args = ["-map", "0:v:0", "-map", "1:a:0"]
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        "-i",
        str(video.path),
        "-i",
        str(soundtrack),
        *audio_args,
        *video_args,
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-t",
        f"{duration:.6f}",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out),
    ]
    result = processes.run(command, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        raise VideoError(
            f"{video.path.name}: the output could not be written ({result.stderr.strip()[-300:]})"
        )
    return not copy
