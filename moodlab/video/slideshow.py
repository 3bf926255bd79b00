"""Photos to a silent H.264 slideshow with crossfades (moviepy 2).

The photos arrive checked by moodlab.images.checks: EXIF orientation applied, RGB,
at most 1280 px on the longest side. The frame is the largest photo's shape, with
even sides (H.264 with 4:2:0 chroma needs that). A photo of another shape either fills
the frame, its edges cropped (``fill``, the default: no black bars), or is shown whole
on black (``pad``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from moodlab.core import processes
from moodlab.images.formats import open_readable

# Seconds each photo is on screen, and how long two photos blend.
SLIDE_S = 4.0
CROSSFADE_S = 1.0
FPS = 25
# The frame is at most this big: the display copies are at most 1280 px anyway.
MAX_FRAME = (1280, 720)
# How a photo of another shape than the frame is fitted: cropped to fill it, or whole on
# black. VideoParams.fit's choices.
FITS = ("fill", "pad")


def frame_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The largest photo fitted into MAX_FRAME, rounded down to even sides."""
    width, height = max(sizes, key=lambda s: s[0] * s[1])
    scale = min(1.0, MAX_FRAME[0] / width, MAX_FRAME[1] / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def fitted(jpeg: bytes, size: tuple[int, int], fit: str = "fill") -> np.ndarray:
    """The photo at ``size``: scaled to cover it and centre-cropped (``fill``), or scaled
    to fit inside it and centred on black (``pad``)."""
    image = open_readable(jpeg, ("JPEG",)).convert("RGB")
    if fit == "fill":
        return np.asarray(ImageOps.fit(image, size, Image.Resampling.LANCZOS))
    image.thumbnail(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size)
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return np.asarray(canvas)


def starts(count: int) -> list[float]:
    """When each photo starts to show (fully visible half a crossfade later)."""
    return [i * (SLIDE_S - CROSSFADE_S) for i in range(count)]


def holds(count: int) -> list[tuple[float, float]]:
    """When each photo is on screen alone: from the end of its crossfade in to the start
    of the next one's (to the end for the last), so a timeline spans the whole show."""
    begins = starts(count)
    ends = [*begins[1:], duration(count)]
    return [
        (b + (CROSSFADE_S if i else 0.0), e)
        for i, (b, e) in enumerate(zip(begins, ends, strict=True))
    ]


def duration(count: int) -> float:
    return count * SLIDE_S - (count - 1) * CROSSFADE_S


def frame_function(pictures: list[np.ndarray]):
    """The show's frame at time t: one photo on its own, or two blending linearly while
    the later one crossfades in (moviepy's CrossFadeIn over the earlier one)."""
    begins = starts(len(pictures))

    def frame(t: float) -> np.ndarray:
        i = max(k for k, begin in enumerate(begins) if begin <= t) if t > 0 else 0
        fade = (t - begins[i]) / CROSSFADE_S
        if i == 0 or fade >= 1:
            return pictures[i]
        blend = pictures[i - 1] * (1 - fade) + pictures[i] * fade
        return np.rint(blend).astype(np.uint8)

    return frame


def write(photos: list[bytes], out: Path, fit: str = "fill") -> float:
    """Write the slideshow (no audio) to ``out``; its duration in seconds.

    The frames come from ``frame_function``: a held photo is the same array every frame,
    and only a crossfade's frames are computed (composing every frame with moviepy's
    compositing was 8 of a 4-photo demo slideshow's 10 seconds). moviepy runs ffmpeg
    itself, so the frames check the job's cancel flag and deadline (ChildStopped).
    """
    from moviepy import VideoClip

    size = frame_size([open_readable(p, ("JPEG",)).size for p in photos])
    pictures = [fitted(photo, size, fit) for photo in photos]
    frame, check = frame_function(pictures), processes.stopper()

    def checked_frame(t: float) -> np.ndarray:
        check()  # a cancel or the deadline stops the frames; moviepy then closes ffmpeg
        return frame(t)

    show = VideoClip(checked_frame, duration=duration(len(photos)))
    try:
        show.write_videofile(
            str(out),
            fps=FPS,
            codec="libx264",
            audio=False,
            preset="veryfast",
            ffmpeg_params=["-pix_fmt", "yuv420p", "-movflags", "+faststart"],
            logger=None,
        )
    finally:
        show.close()
    return duration(len(photos))
