"""From decoded pixels of any mode to the small 8-bit RGB copy the checks work on.

Memory is bounded by pixels and bytes per pixel. Pillow keeps a pixel in 1, 2 or 4
bytes by its mode, and a mode that is not 8-bit RGB or grey costs one more
full-size copy on the way; ``peak_bytes`` says what both take, from the header, so
an image over the budget is refused before it is decoded. Nothing else here holds
more: 16-bit and float samples are scaled and transparency is flattened strip by
strip, and the working copy is reduced from the full-size image in one resize.
(Scaling a 9400x9400 16-bit PNG with whole-image float64 arrays took 3.6 GB.)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import cast

import numpy as np
from PIL import Image

# Pixels a strip holds: its float64 copy while scaling is 8 MB. What a strip's copies
# take at most (its crop, 4 bytes a pixel, and that float copy), whatever the image's size.
STRIP_PIXELS = 1 << 20
STRIP_BYTES = STRIP_PIXELS * (4 + 8)
# Modes Pillow keeps in 1 or 2 bytes a pixel; every other mode takes 4, RGB included.
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# Modes with more than 8 bits a sample: grey 16-bit ("I;16..."), 32-bit int, float.
WIDE_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")
# Bytes a pixel of the working copy costs with the copies made of it (its upright turn,
# the display copy, grey copies for the hashes): 4 bytes each, at most four at once.
WORKING_BYTES = 16
# What transparent parts show: a grey with no hue and middle lightness adds no colour
# or light of its own (white made every translucent picture a near-blank tile).
NEUTRAL_GREY = (128, 128, 128)
# A translucent image's alpha is stretched so that its most opaque pixels, this share
# of them (one stray opaque pixel does not count), are opaque.
OPAQUE_SHARE = 0.01


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _grey(image: Image.Image) -> bool:
    """Whether the 8-bit copy is grey ("L", 1 byte a pixel) rather than RGB (4)."""
    return image.mode in (*WIDE_MODES, "1", "L")


def _copy_bytes(image: Image.Image) -> int:
    """Bytes a pixel of the full-size 8-bit copy takes (0: the decoded image is one)."""
    if image.mode in ("L", "RGB") and not has_alpha(image):
        return 0
    return 1 if _grey(image) else 4


def reduction(size: tuple[int, int], *, longest: int, shortest: int) -> float:
    """The scale (at most 1) that brings the longest side to ``longest``, unless the
    shortest side would then fall under ``shortest`` (a panorama keeps its height)."""
    return min(1.0, max(longest / max(size), shortest / min(size)))


def peak_bytes(image: Image.Image, *, longest: int, shortest: int) -> int:
    """An upper bound of the memory checking ``image`` takes, from its header alone: the
    decoded pixels, their full-size 8-bit copy where the mode needs one, the resize's
    half-way image (full height, reduced width), and the working copy with the copies
    made of it."""
    pixels = image.width * image.height
    scale = reduction(image.size, longest=longest, shortest=shortest)
    half_way = (1 if _grey(image) else 4) * scale if scale < 1 else 0
    per_pixel = (
        _STORED_BYTES.get(image.mode, 4) + _copy_bytes(image) + half_way + WORKING_BYTES * scale**2
    )
    return math.ceil(pixels * per_pixel) + STRIP_BYTES


def working_copy(image: Image.Image, *, longest: int, shortest: int) -> Image.Image:
    """A new 8-bit RGB copy of a decoded ``image``, reduced as ``reduction`` says."""
    eight = _eight_bit(image)
    scale = reduction(eight.size, longest=longest, shortest=shortest)
    if scale < 1:
        size = (max(1, round(eight.width * scale)), max(1, round(eight.height * scale)))
        eight = eight.resize(size, Image.Resampling.LANCZOS)
    if eight.mode == "RGB":
        return eight.copy() if eight is image else eight
    return eight.convert("RGB")


def _eight_bit(image: Image.Image) -> Image.Image:
    """Full-size 8-bit grey or RGB: ``image`` itself when it is one already."""
    if image.mode in WIDE_MODES:
        return to_8_bit(image)
    if has_alpha(image):
        return flatten(image)
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("L" if image.mode == "1" else "RGB")


def strips(size: tuple[int, int]) -> Iterator[tuple[int, int, int, int]]:
    """Boxes of whole rows, about STRIP_PIXELS each, from top to bottom."""
    width, height = size
    rows = max(1, STRIP_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        yield (0, top, width, min(height, top + rows))


def to_8_bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float grey image scaled to 8 bits by its range, not clipped.

    Pillow's convert("RGB") clips such samples at 255, which turned 16-bit PNGs and
    float TIFFs almost all white. Integer samples that fit 16 bits are scaled by the
    16-bit range (so a dark photo stays dark); float samples within 0..1 by that
    range; anything else by the image's own minimum and maximum. Strip by strip: the
    result (1 byte a pixel) is the only full-size array.
    """
    low, high = _sample_range(image)
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif image.mode != "F" and low >= 0 and high <= 65535:
        low, high = 0.0, 65535.0
    factor = 255.0 / max(high - low, 1e-12)
    out = np.empty((image.height, image.width), dtype=np.uint8)
    for box in strips(image.size):
        samples = np.array(image.crop(box), dtype=np.float64)  # the strip's one float copy
        np.nan_to_num(samples, copy=False, nan=low)
        samples -= low
        samples *= factor
        np.round(samples, out=samples)
        out[box[1] : box[3]] = np.clip(samples, 0, 255, out=samples)
    return Image.fromarray(out)


def _sample_range(image: Image.Image) -> tuple[float, float]:
    """The smallest and largest finite sample (0, 0 when there is none)."""
    if image.mode != "F":  # integers are all finite: Pillow's own pass, no copy
        least, most = cast("tuple[int, int]", image.getextrema())  # one band: one pair
        return float(least), float(most)
    low, high = math.inf, -math.inf
    for box in strips(image.size):
        samples = np.asarray(image.crop(box))
        samples = samples[np.isfinite(samples)]
        if samples.size:
            low, high = min(low, float(samples.min())), max(high, float(samples.max()))
    return (low, high) if low <= high else (0.0, 0.0)


def flatten(image: Image.Image) -> Image.Image:
    """RGB over NEUTRAL_GREY, with the alpha stretched so that the most opaque pixels
    (the top OPAQUE_SHARE of them) are opaque.

    Alpha says how a picture is meant to lie over something else, which moodlab does
    not know; its colours are the picture. So an opaque cut-out shows as itself on
    grey, and a translucent one (a wallpaper at 10% alpha) by its own colours, not as
    the near-blank tile that compositing on white made of every such picture.
    """
    histogram = [0] * 256
    for box in strips(image.size):
        alpha = image.crop(box).convert("RGBA").getchannel("A").histogram()
        histogram = [a + b for a, b in zip(histogram, alpha, strict=True)]
    top = opaque_level(histogram)
    stretch = [min(255, round(a * 255 / top)) if top else 0 for a in range(256)]
    flat = Image.new("RGB", image.size, NEUTRAL_GREY)
    for box in strips(image.size):
        piece = image.crop(box).convert("RGBA")
        flat.paste(piece, box[:2], mask=piece.getchannel("A").point(stretch))
    return flat


def opaque_level(histogram: list[int]) -> int:
    """The alpha the most opaque OPAQUE_SHARE of the pixels reach (0: all transparent).

    A small opaque cut-out (under that share) on a transparent ground keeps its own
    highest alpha rather than counting as transparent.
    """
    wanted, seen = sum(histogram) * OPAQUE_SHARE, 0
    for level in range(255, 0, -1):
        seen += histogram[level]
        if seen >= wanted:
            return level
    return max((level for level in range(256) if histogram[level]), default=0)
