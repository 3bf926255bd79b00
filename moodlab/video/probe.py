"""What ffmpeg says about a media file, read from the stderr of `ffmpeg -i`.

imageio-ffmpeg ships ffmpeg but not ffprobe, so the stream lines are parsed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from moodlab.core import processes
from moodlab.core.errors import MoodlabError


class VideoError(MoodlabError):
    """A video input moodlab cannot use; the message names the file and the reason."""


@cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+(?:\[\w+\])?(?:\(\w+\))?: (Video|Audio): (\S+?)[,\s]")
_SIZE = re.compile(r", (\d{2,5})x(\d{2,5})[\s,]")
_FPS = re.compile(r", (\d+(?:\.\d+)?) fps")
_TAG = re.compile(r"Video: \S+ \((\w+) / 0x")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")
_FRAME = re.compile(r"frame=\s*(\d+)")


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration_s: float | None  # the container's duration
    video_codec: str | None  # ffmpeg's codec name of the first video stream ("none": unknown)
    width: int | None  # as stored; a rotation swaps them on display
    height: int | None
    fps: float | None
    rotation: int  # degrees the player turns the picture
    audio_codec: str | None
    video_tag: str | None = None  # the container's codec tag (fourcc), e.g. avc1

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None


def probe(path: Path) -> MediaInfo:
    """The streams of ``path``; VideoError when ffmpeg cannot read it at all."""
    result = processes.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
    )
    text = result.stderr
    if "Duration:" not in text and "Stream #" not in text:
        reason = text.strip().splitlines()[-1] if text.strip() else "unreadable"
        reason = reason.split(": ", 1)[-1] if str(path) in reason else reason
        raise VideoError(f"{path.name}: not a media file ffmpeg can read ({reason})")
    return parse(path, text)


def parse(path: Path, text: str) -> MediaInfo:
    duration = None
    if match := _DURATION.search(text):
        h, m, s = match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    video = audio = tag = None
    width = height = fps = None
    rotation = 0
    lines = text.splitlines()
    for i, line in enumerate(lines):
        stream = _STREAM.search(line)
        if not stream:
            continue
        kind, codec = stream.groups()
        if kind == "Audio" and audio is None:
            audio = codec
        # Cover art in an audio file is a "video" stream of one picture, not a video.
        if kind == "Video" and video is None and "(attached pic)" not in line:
            video = codec
            if found := _TAG.search(line):
                tag = found.group(1)
            if size := _SIZE.search(line):
                width, height = int(size.group(1)), int(size.group(2))
            if rate := _FPS.search(line):
                fps = float(rate.group(1))
            for after in lines[i + 1 : i + 8]:
                if "Stream #" in after:
                    break
                if turn := _ROTATION.search(after):
                    rotation = round(-float(turn.group(1))) % 360
    return MediaInfo(path, duration, video, width, height, fps, rotation, audio, tag)


def count_frames(path: Path) -> int:
    """Frames of the first video stream, counted from its packets (no decoding)."""
    result = processes.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=600,
    )
    counts = _FRAME.findall(result.stderr)
    if result.returncode != 0 or not counts:
        raise VideoError(f"{path.name}: its video stream cannot be read")
    return int(counts[-1])


def video_duration(info: MediaInfo) -> float:
    """How long the picture lasts: frames / frame rate, else the container's duration.

    The container's duration also covers an audio stream that runs longer or
    shorter than the picture; the new soundtrack must match the picture.
    """
    if info.fps:
        frames = count_frames(info.path)
        if frames:
            return frames / info.fps
    return info.duration_s or 0.0
