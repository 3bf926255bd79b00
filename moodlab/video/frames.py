"""Frames sampled from a video by ffmpeg, already cropped to the model's square.

ffmpeg decodes, keeps ``fps`` frames a second and applies moodlab.resize's
center-crop rule (the one the training thumbnails were made with), then writes
raw RGB to a pipe. The pipe is read in batches of a fixed size, so memory does
not grow with the length of the video.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodlab.resize import MODEL_SIDE, ffmpeg_square_crop_filter
from moodlab.video.probe import VideoError, ffmpeg_exe

# Frames per batch: 64 frames of 128x128 RGB are 3 MB, whatever the video's length.
BATCH = 64


@dataclass(frozen=True)
class Batch:
    times: np.ndarray  # seconds from the start, one per frame
    frames: np.ndarray  # (n, side, side, 3) uint8


def sample_frames(
    path: Path, *, fps: float, side: int = MODEL_SIDE, batch: int = BATCH
) -> Iterator[Batch]:
    """Batches of frames ``fps`` a second, each ``side`` x ``side`` RGB.

    Frame i shows the picture at i / fps seconds (ffmpeg's fps filter keeps the
    frame nearest to each tick).
    """
    if fps <= 0:
        raise VideoError(f"sample rate must be positive, got {fps}")
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
        "-map", "0:v:0", "-an", "-sn",
        "-vf", f"fps={fps},{ffmpeg_square_crop_filter(side)}",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip
    frame_bytes = side * side * 3
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    index = 0
    try:
        while True:
            data = process.stdout.read(frame_bytes * batch)
            count = len(data) // frame_bytes
            if count == 0:
                break
            frames = np.frombuffer(data[: count * frame_bytes], np.uint8)
            times = (index + np.arange(count)) / fps
            index += count
            yield Batch(times, frames.reshape(count, side, side, 3))
    finally:
        process.stdout.close()
        stderr = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        if process.poll() is None:  # the caller stopped early (cancelled)
            process.kill()
        process.wait()
    if process.returncode != 0 or index == 0:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no frames decoded"
        raise VideoError(f"{path.name}: its video cannot be decoded ({last})")
