"""Validation of one candidate image, and the derived files moodlab keeps of it.

``check_image`` takes raw bytes and either returns a CheckedImage (decoded,
oriented, RGB, with its display copy, thumbnail and perceptual hash) or raises
Rejected with a reason a person can act on. Nothing is written here. Each image
is decoded once; an original that already fits as the display copy (a baseline
RGB JPEG within 1280 px, upright) is the display copy, not re-encoded.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from moodlab.core.errors import MoodlabError
from moodlab.images.resize import DISPLAY_SIDE, display_copy, square_crop
from moodlab.images.similarity import colour_layout, texture

# Formats Pillow decodes that moodlab accepts, and the suffix the original keeps.
SUFFIXES = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "GIF": ".gif",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tif",
    "MPO": ".jpg",  # multi-picture JPEG from phone cameras
}


ORIENTATION = 0x0112  # the EXIF tag
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


def check_image(data: bytes, *, max_pixels: int, min_side: int, max_bytes: int) -> CheckedImage:
    if len(data) > max_bytes:
        raise Rejected("too_large", f"file too large: {len(data):,} bytes (limit {max_bytes:,})")
    if not data:
        raise Rejected("not_image", "not an image: the file is empty")
    image = _open_checked(data, max_pixels)
    fmt = image.format
    if fmt not in SUFFIXES:
        raise Rejected("unsupported", f"unsupported image format {fmt}")
    if min(image.size) < min_side:
        w, h = image.size
        raise Rejected("too_small", f"too small: {w}x{h} px (at least {min_side} px a side)")
    try:
        turned = image.getexif().get(ORIENTATION, 1) not in (0, 1)
        upright = ImageOps.exif_transpose(image) if turned else image
        rgb = _to_rgb(upright)
    except Exception as exc:  # a broken EXIF block, a colour mode Pillow cannot convert
        raise Rejected(
            "corrupt",
            f"cannot convert the image ({image.mode}) to RGB: {type(exc).__name__}: {exc}",
        ) from None
    as_is = fmt == "JPEG" and image.mode == "RGB" and not turned
    fits = as_is and max(rgb.size) <= DISPLAY_SIDE
    return CheckedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        suffix=SUFFIXES[fmt],
        width=rgb.width,
        height=rgb.height,
        phash=str(imagehash.phash(rgb)),
        colour_layout=colour_layout(rgb),
        texture=texture(rgb),
        display_encoded=None if fits else _encode(display_copy(rgb), "JPEG", quality=88),
        thumbnail_png=_encode(square_crop(rgb), "PNG", compress_level=PNG_LEVEL),
    )


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Identify, check the header's size, then decode once, to the end (truncation fails)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            pixels = image.width * image.height
            if pixels > max_pixels:
                raise Rejected(
                    "bomb",
                    f"decompression bomb: {image.width}x{image.height} = {pixels:,} pixels"
                    f" (limit {max_pixels:,})",
                )
            image.load()
    except Rejected:
        raise
    except UnidentifiedImageError:
        raise Rejected("not_image", "not an image: Pillow cannot identify the file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejected("bomb", f"decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Rejected("corrupt", f"truncated or corrupt image: {exc}") from None
    except Exception as exc:  # a decoder's own error on a malformed file: this file only
        raise Rejected("corrupt", f"corrupt image ({type(exc).__name__}: {exc})") from None
    return image


# Modes with more than 8 bits a sample: grey 16-bit ("I;16..."), 32-bit int, float.
WIDE_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


def to_8_bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float grey image scaled to 8 bits by its range, not clipped.

    Pillow's convert("RGB") clips such samples at 255, which turned 16-bit PNGs and
    float TIFFs almost all white. Integer samples that fit 16 bits are scaled by the
    16-bit range (so a dark photo stays dark); float samples within 0..1 by that
    range; anything else by the image's own minimum and maximum.
    """
    samples = np.asarray(image, dtype=np.float64)
    finite = samples[np.isfinite(samples)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif image.mode != "F" and low >= 0 and high <= 65535:
        low, high = 0.0, 65535.0
    scaled = (np.nan_to_num(samples, nan=low) - low) / max(high - low, 1e-12) * 255.0
    return Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8))


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB; transparent parts become white, as a browser shows them on a white page."""
    if image.mode in WIDE_MODES:
        return to_8_bit(image).convert("RGB")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
