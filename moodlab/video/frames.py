"""Frames sampled from a video by ffmpeg, already cropped to the model's square.

ffmpeg decodes, keeps ``fps`` frames a second and applies moodlab.images.resize's
center-crop rule (the one the training thumbnails were made with), then writes
raw RGB to a pipe. The pipe is read in batches of a fixed size, and at most a few
batches wait in memory, so memory does not grow with the length of the video.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from moodlab.core import processes
from moodlab.images.resize import MODEL_SIDE, ffmpeg_square_crop_filter
from moodlab.video.probe import VideoError, ffmpeg_exe

# Frames per batch: 64 frames of 128x128 RGB are 3 MB, whatever the video's length.
BATCH = 64
# Batches decoded ahead of the model (24 MB at most): ffmpeg decodes while Keras is
# still being imported and the model loaded, instead of waiting for them.
AHEAD = 8


@dataclass(frozen=True)
class Batch:
    times: np.ndarray  # seconds from the start, one per frame
    frames: np.ndarray  # (n, side, side, 3) uint8


class FrameSampler:
    """Starts ffmpeg at once and reads its frames on a thread; iterate for the batches.

    Frame i shows the picture at i / fps seconds (ffmpeg's fps filter keeps the frame
    nearest to each tick). Use it as a context manager, so ffmpeg is stopped when
    the caller stops early (say, the job is cancelled).
    """

    def __init__(
        self,
        path: Path,
        *,
        fps: float,
        side: int = MODEL_SIDE,
        batch: int = BATCH,
        ahead: int = AHEAD,
    ):
        if fps <= 0:
            raise VideoError(f"sample rate must be positive, got {fps}")
        self.path, self.fps, self.side, self.batch = path, fps, side, batch
        command = [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-an",
            "-sn",
            "-vf",
            f"fps={fps},{ffmpeg_square_crop_filter(side)}",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]
        # Killed by its watcher when the job is cancelled or runs past its deadline.
        self._child = processes.Child(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._process = self._child.process
        assert self._process.stdout is not None and self._process.stderr is not None  # PIPEs
        self._stdout: IO[bytes] = self._process.stdout
        self._stderr: IO[bytes] = self._process.stderr
        self._batches: queue.Queue[Batch | None] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.count = 0

    def _read(self) -> None:
        frame_bytes = self.side * self.side * 3
        index = 0
        try:
            while not self._stop.is_set():
                data = self._stdout.read(frame_bytes * self.batch)
                count = len(data) // frame_bytes
                if count == 0:
                    break
                frames = np.frombuffer(data[: count * frame_bytes], np.uint8)
                times = (index + np.arange(count)) / self.fps
                index += count
                self._put(Batch(times, frames.reshape(count, self.side, self.side, 3)))
        finally:
            self._put(None)

    def _put(self, item: Batch | None) -> None:
        while not self._stop.is_set():
            try:
                self._batches.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Batch]:
        while (batch := self._batches.get()) is not None:
            self.count += len(batch.times)
            yield batch
        stderr = self._stderr.read().decode(errors="replace")
        if self._process.wait() != 0 or self.count == 0:
            if self._child.stopped:
                raise processes.ChildStopped(f"ffmpeg was killed: {self._child.stopped}")
            last = stderr.strip().splitlines()[-1] if stderr.strip() else "no frames decoded"
            raise VideoError(f"{self.path.name}: its video cannot be decoded ({last})")

    def close(self) -> None:
        self._child.close()
        self._stop.set()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._reader.join()
        self._stdout.close()
        self._stderr.close()

    def __enter__(self) -> FrameSampler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
