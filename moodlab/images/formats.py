"""The image formats moodlab reads, recognised by their first bytes before any decoder runs.

Pillow's ``Image.open`` tries every plugin it has unless it is told which: a
PostScript file named photo.jpg made its EPS plugin run Ghostscript on the file, and
the PPM, TGA, ICO and forty other decoders ran on files that were refused only
afterwards. So a file's format is read from its signature (``sniff``), checked
against READABLE, and only that format's plugin is asked to open it
(``open_readable``); the name or content type a file came with decides nothing.
"""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

# The plugins of the formats moodlab reads, imported by name: with each one registered,
# Image.open(formats=...) never calls Image.init(), which imports every plugin.
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    MpoImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

PLUGINS = (
    BmpImagePlugin,
    GifImagePlugin,
    JpegImagePlugin,
    MpoImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

# Pillow plugins whose decoder runs another program: EPS runs Ghostscript on the file.
# (JPEG's load_djpeg and GIF's netpbm saver shell out too, but only when called by
# name, which moodlab never does.) A None in sys.modules makes their import fail,
# which Image.init() skips quietly, so no code in a moodlab process, moodlab's or a
# library's, can reach them through Image.open.
SHELLING_OUT = {"EpsImagePlugin": "EPS"}
for _plugin, _format in SHELLING_OUT.items():
    if sys.modules.setdefault(f"PIL.{_plugin}", None) is not None:  # type: ignore[arg-type]
        # imported before moodlab was: unregister its format instead
        Image.OPEN.pop(_format, None)
        if _format in Image.ID:
            Image.ID.remove(_format)


@dataclass(frozen=True)
class Format:
    name: str  # as a person calls it
    suffix: str  # the stored original's suffix
    extensions: tuple[str, ...]  # file names taken as this format (folders, zips, uploads)


# Pillow's format names of what moodlab reads, in the order messages list them.
READABLE = {
    "JPEG": Format("JPEG", ".jpg", (".jpg", ".jpeg")),
    "MPO": Format("MPO", ".jpg", ()),  # multi-picture JPEG from phone cameras: a JPEG file
    "PNG": Format("PNG", ".png", (".png",)),
    "GIF": Format("GIF", ".gif", (".gif",)),
    "WEBP": Format("WebP", ".webp", (".webp",)),
    "BMP": Format("BMP", ".bmp", (".bmp",)),
    "TIFF": Format("TIFF", ".tif", (".tif", ".tiff")),
}
IMAGE_EXTENSIONS = tuple(ext for fmt in READABLE.values() for ext in fmt.extensions)
READABLE_NAMES = ", ".join(f.name for key, f in READABLE.items() if key != "MPO")

# The signature each readable format's files begin with, as Pillow's plugins test it.
_SIGNATURES = [
    ("JPEG", re.compile(rb"\xff\xd8\xff")),  # MPO files too: the JPEG plugin tells them apart
    ("PNG", re.compile(rb"\x89PNG\r\n\x1a\n")),
    ("GIF", re.compile(rb"GIF8[79]a")),
    ("WEBP", re.compile(rb"RIFF.{4}WEBP", re.DOTALL)),
    ("BMP", re.compile(rb"BM")),
    ("TIFF", re.compile(rb"II[*+]\x00|MM\x00[*+]")),
]

# Files often named or served as pictures that moodlab does not read: (kind, what it is).
# "unsupported" for pictures in another format, "not_image" for the rest.
_OTHERS = [
    (re.compile(rb"%!PS"), "unsupported", "PostScript/EPS"),
    (re.compile(rb"\xc5\xd0\xd3\xc6"), "unsupported", "EPS (DOS binary)"),
    (re.compile(rb"P[1-7][\s#]|P[Ff]\s"), "unsupported", "Netpbm (PBM/PGM/PPM/PAM/PFM)"),
    # An icon or cursor holds at least one picture (a TGA's first bytes can look alike).
    (re.compile(rb"\x00\x00\x01\x00(?!\x00\x00)"), "unsupported", "ICO (Windows icon)"),
    (re.compile(rb"\x00\x00\x02\x00(?!\x00\x00)"), "unsupported", "CUR (Windows cursor)"),
    (re.compile(rb"icns"), "unsupported", "ICNS (macOS icon)"),
    (re.compile(rb"8BPS"), "unsupported", "PSD (Photoshop)"),
    (re.compile(rb".{4}ftyp(avif|avis)", re.DOTALL), "unsupported", "AVIF"),
    (re.compile(rb".{4}ftyp(hei[cfsmx]|hev[cx]|mif1|msf1)", re.DOTALL), "unsupported", "HEIC/HEIF"),
    (re.compile(rb"\xff\x0a|\x00\x00\x00\x0cJXL "), "unsupported", "JPEG XL"),
    (re.compile(rb"\x00\x00\x00\x0cjP  |\xff\x4f\xff\x51"), "unsupported", "JPEG 2000"),
    (re.compile(rb"DDS "), "unsupported", "DDS (DirectDraw surface)"),
    (re.compile(rb"qoif"), "unsupported", "QOI"),
    (re.compile(rb"\x01\xda[\x00\x01]"), "unsupported", "SGI"),
    (re.compile(rb"\x59\xa6\x6a\x95"), "unsupported", "Sun raster"),
    (re.compile(rb"\x0a[\x00-\x05]\x01"), "unsupported", "PCX"),
    (re.compile(rb"SIMPLE  ="), "unsupported", "FITS"),
    (re.compile(rb"gimp xcf"), "unsupported", "XCF (GIMP)"),
    (
        re.compile(rb"\xd7\xcd\xc6\x9a|\x01\x00\x00\x00.{36} EMF", re.DOTALL),
        "unsupported",
        "WMF/EMF",
    ),
    (re.compile(rb"\s*(<\?xml[^>]*>\s*)?<svg", re.IGNORECASE), "unsupported", "SVG"),
    (re.compile(rb"%PDF-"), "not_image", "a PDF document"),
    (
        re.compile(rb"\s*<(!doctype html|html|head|body)", re.IGNORECASE),
        "not_image",
        "an HTML page",
    ),
    (re.compile(rb"\s*<\?xml"), "not_image", "an XML document"),
    (re.compile(rb"PK\x03\x04"), "not_image", "a zip archive"),
    (re.compile(rb"\x1f\x8b"), "not_image", "a gzip file"),
    (re.compile(rb"Rar!\x1a\x07|7z\xbc\xaf\x27\x1c"), "not_image", "an archive"),
    (re.compile(rb".{4}ftyp", re.DOTALL), "not_image", "an MP4/QuickTime media file"),
]
# A TGA file has no signature at its start; a version 2 one ends with this footer.
_TGA_FOOTER = b"TRUEVISION-XFILE.\x00"
HEAD = 64  # bytes looked at


def sniff(data: bytes) -> str | None:
    """The Pillow format name of a readable image by its first bytes, or None."""
    head = data[:HEAD]
    return next((fmt for fmt, sig in _SIGNATURES if sig.match(head)), None)


def describe(data: bytes) -> tuple[str, str]:
    """Why bytes ``sniff`` did not recognise are refused: (kind, reason)."""
    head = data[:HEAD].lstrip(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
    found = next(((kind, what) for sig, kind, what in _OTHERS if sig.match(head)), None)
    if data.endswith(_TGA_FOOTER):
        found = ("unsupported", "TGA (Targa)")
    if found is None:
        return "not_image", f"not an image: the bytes begin like none of {READABLE_NAMES}"
    kind, what = found
    if kind == "unsupported":
        return kind, f"unsupported image format {what}: moodlab reads {READABLE_NAMES}; not decoded"
    return kind, f"not an image: {what}"


def open_readable(source: bytes | Path, formats: tuple[str, ...] = tuple(READABLE)) -> Image.Image:
    """Image.open limited to ``formats`` (all readable ones by default), header only.

    For the files moodlab made itself (display copies, thumbnails) as much as for
    arrivals: a stored file is only ever opened as the format it was written in.
    """
    if any(fmt not in READABLE for fmt in formats):
        raise ValueError(f"moodlab does not read {formats}")
    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=formats)
