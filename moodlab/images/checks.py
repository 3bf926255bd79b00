"""Validation of one candidate image, and the derived files moodlab keeps of it.

``check_image`` takes raw bytes and either returns a CheckedImage (decoded,
oriented, RGB, with its display copy, thumbnail and perceptual hash) or raises
Rejected with a reason a person can act on. Nothing is written here. Before any
decoder runs, the format is read from the bytes and must be one moodlab reads
(moodlab.images.formats), and the header's size must fit the pixel limit and the
memory budget (moodlab.images.pixels). Each image is decoded once; everything
after works on a copy of at most display size. An original that already fits as
the display copy (a baseline RGB JPEG within 1280 px, upright) is the display
copy, not re-encoded.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import imagehash
from PIL import Image, UnidentifiedImageError

from moodlab.core.errors import MoodlabError
from moodlab.images.formats import READABLE, describe, open_readable, sniff
from moodlab.images.pixels import peak_bytes, working_copy
from moodlab.images.resize import DISPLAY_SIDE, MODEL_SIDE, display_copy, square_crop
from moodlab.images.similarity import colour_layout, texture

# The suffix each format's original is stored with (moodlab.images.formats.READABLE).
SUFFIXES = {fmt: readable.suffix for fmt, readable in READABLE.items()}

ORIENTATION = 0x0112  # the EXIF tag
# What each EXIF orientation asks for to show the picture upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SIDEWAYS = {UPRIGHT[5], UPRIGHT[6], UPRIGHT[7], UPRIGHT[8]}  # these swap width and height
# zlib level of the 128x128 thumbnails: level 1 encodes several times faster than the
# default 6 (encoding was most of the CPU an image cost) for files about 15% larger.
PNG_LEVEL = 1


class Rejected(MoodlabError):
    """A candidate that is not stored; ``kind`` groups the reasons for counting."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class CheckedImage:
    data: bytes  # the original bytes, stored as they came
    sha256: str
    suffix: str
    width: int  # after EXIF orientation
    height: int
    phash: str
    colour_layout: str  # moodlab.images.similarity: near-duplicates need near colours too
    texture: float  # how busy it is (moodlab.images.similarity.texture)
    display_encoded: bytes | None  # None: the original is the display copy as it is
    thumbnail_png: bytes

    @property
    def display_jpeg(self) -> bytes:
        return self.data if self.display_encoded is None else self.display_encoded


def check_image(
    data: bytes, *, max_pixels: int, min_side: int, max_bytes: int, max_memory: int
) -> CheckedImage:
    if len(data) > max_bytes:
        raise Rejected("too_large", f"file too large: {len(data):,} bytes (limit {max_bytes:,})")
    if not data:
        raise Rejected("not_image", "not an image: the file is empty")
    fmt = sniff(data)
    if fmt is None:
        raise Rejected(*describe(data))
    image = _decoded(data, fmt, max_pixels=max_pixels, min_side=min_side, max_memory=max_memory)
    fmt, mode, (width, height) = str(image.format), image.mode, image.size
    try:
        turn = UPRIGHT.get(image.getexif().get(ORIENTATION, 1))
        working = working_copy(image, longest=DISPLAY_SIDE, shortest=MODEL_SIDE)
    except Exception as exc:  # a broken EXIF block, a colour mode Pillow cannot convert
        raise Rejected(
            "corrupt", f"cannot convert the image ({mode}) to RGB: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        image.close()  # the decoded pixels, the largest thing here, go now
    rgb = working if turn is None else working.transpose(turn)
    if turn in SIDEWAYS:
        width, height = height, width
    fits = fmt == "JPEG" and mode == "RGB" and turn is None and max(width, height) <= DISPLAY_SIDE
    return CheckedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        suffix=SUFFIXES[fmt],
        width=width,
        height=height,
        phash=str(imagehash.phash(rgb)),
        colour_layout=colour_layout(rgb),
        texture=texture(rgb),
        display_encoded=None if fits else _encode(display_copy(rgb), "JPEG", quality=88),
        thumbnail_png=_encode(square_crop(rgb), "PNG", compress_level=PNG_LEVEL),
    )


def _decoded(
    data: bytes, fmt: str, *, max_pixels: int, min_side: int, max_memory: int
) -> Image.Image:
    """Open as ``fmt`` only, check the header's size and cost, then decode once, to the end
    (truncation fails)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = open_readable(data, (fmt,))
            _check_header(image, max_pixels=max_pixels, min_side=min_side, max_memory=max_memory)
            image.load()
    except Rejected:
        raise
    except UnidentifiedImageError:
        name = READABLE[fmt].name
        raise Rejected(
            "not_image", f"not an image: it begins like a {name} file, but is not one"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejected("bomb", f"decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Rejected("corrupt", f"truncated or corrupt image: {exc}") from None
    except Exception as exc:  # a decoder's own error on a malformed file: this file only
        raise Rejected("corrupt", f"corrupt image ({type(exc).__name__}: {exc})") from None
    return image


def _check_header(image: Image.Image, *, max_pixels: int, min_side: int, max_memory: int) -> None:
    """What the header says, checked before the pixels are decoded."""
    width, height = image.size
    if image.format not in READABLE:  # the JPEG plugin may say MPO, which is readable
        raise Rejected("unsupported", f"unsupported image format {image.format}")
    pixels = width * height
    if pixels > max_pixels:
        raise Rejected(
            "bomb",
            f"decompression bomb: {width}x{height} = {pixels:,} pixels (limit {max_pixels:,})",
        )
    need = peak_bytes(image, longest=DISPLAY_SIDE, shortest=MODEL_SIDE)
    if need > max_memory:
        raise Rejected(
            "memory",
            f"too costly to decode: {width}x{height} {image.mode} pixels need about"
            f" {need / 1e6:,.0f} MB, over the memory budget of {max_memory / 1e6:,.0f} MB"
            " (MOODLAB_MAX_IMAGE_MEMORY)",
        )
    if min(width, height) < min_side:
        raise Rejected(
            "too_small", f"too small: {width}x{height} px (at least {min_side} px a side)"
        )


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
