"""Real image files made by the tests: smooth random pictures that differ by seed."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def picture(seed: int, size: tuple[int, int] = (256, 192)) -> Image.Image:
    """Smooth colour blobs: distinct per seed, stable under resizing and re-encoding."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    return small.resize(size, Image.Resampling.BICUBIC)


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(seed: int, size=(256, 192), quality: int = 90) -> bytes:
    return encode(picture(seed, size), "JPEG", quality=quality)


def png(seed: int, size=(256, 192)) -> bytes:
    return encode(picture(seed, size), "PNG")


def truncated_jpeg(seed: int) -> bytes:
    data = jpeg(seed)
    return data[: len(data) // 2]


def bomb_png(side: int = 4000) -> bytes:
    """A valid PNG of side x side black pixels that compresses to a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = (b"\x00" + b"\x00" * ((side + 7) // 8)) * side
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def wav_bytes(signal: np.ndarray, rate: int) -> bytes:
    """Mono 16-bit WAV bytes of ``signal`` (floats in -1..1)."""
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def wav(seconds: float = 1.0, hz: float = 440.0, rate: int = 22_050) -> bytes:
    """A real WAV file: a sine tone."""
    t = np.arange(int(seconds * rate)) / rate
    return wav_bytes(0.3 * np.sin(2 * np.pi * hz * t), rate)


def beat_wav(seconds: float = 20.0, bpm: float = 120.0, rate: int = 44_100) -> bytes:
    """A real WAV file with a pulse: a short tone burst on every beat over a soft chord."""
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(0.08 * np.sin(2 * np.pi * hz * t) for hz in (220.0, 277.18, 329.63))
    since_beat = t % (60.0 / bpm)
    clicks = 0.5 * np.sin(2 * np.pi * 880 * t) * np.exp(-since_beat * 40)
    return wav_bytes((chord + clicks) * 0.8, rate)


# A PostScript file (an EPS with a bounding box): Pillow's EPS plugin, if it is ever
# asked, hands this to Ghostscript to draw.
POSTSCRIPT = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 200 200\n%%EndComments\n"
    b"newpath 0 0 moveto 200 200 lineto stroke\nshowpage\n%%EOF\n"
)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def streamed_png(width: int, height: int, colour_type: int, depth: int, row, extra=b"") -> bytes:
    """A valid PNG whose rows ``row(y)`` (filter byte included) are compressed one at a
    time, so a huge picture is made without ever holding its pixels."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    compressor = zlib.compressobj(6)
    data = b"".join(compressor.compress(row(y)) for y in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + extra
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def grey16_png(side: int) -> bytes:
    """A 16-bit greyscale PNG of side x side pixels: a ramp from black at the top to
    white at the bottom (9400 px a side: 88 million pixels, a file of about 170 KB)."""

    def row(y: int) -> bytes:
        return b"\x00" + (y * 65535 // max(side - 1, 1)).to_bytes(2, "big") * side

    return streamed_png(side, side, 0, 16, row)


def rgba_png(side: int) -> bytes:
    """An 8-bit RGBA PNG of side x side pixels: translucent colour bands."""

    def row(y: int) -> bytes:
        return b"\x00" + bytes((y % 256, 255 - y % 256, 128, 64)) * side

    return streamed_png(side, side, 6, 8, row)
