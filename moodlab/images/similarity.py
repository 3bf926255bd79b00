"""Near-duplicates judged by structure and colour together.

A perceptual hash (imagehash's pHash) sees luminance structure only: smooth pictures
of different colours (fog, sky, still water, the low-arousal moods) hash alike, and
a filter on pHash alone dropped whole moods (docs/architecture.md, "Image intake").
So each image also keeps a *colour layout*: the mean colour of each cell of a 4x4
grid, in CIELAB, where a distance of about 2.3 is a just-noticeable difference. An
image is a near-duplicate of a stored one when both are close: the pHash within
``near_duplicate_distance`` bits and the colour layouts within ``near_duplicate_colour``
(the mean CIELAB distance over the 16 cells), or when the layouts are all but equal
(SAME_COLOURS) and the candidate is smooth, since pHash is unstable on the very
smooth pictures this is about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select, update

from moodlab.core.db import Database
from moodlab.core.models import Image as ImageRow
from moodlab.images.formats import open_readable

PENDING = 0  # the index's image id for an image whose row is not committed yet

CELLS = 4  # a CELLS x CELLS grid
LAYOUT_HEX = CELLS * CELLS * 3 * 2  # 48 bytes as hex: the column's width
# Images stored before colour layouts existed, whose layout cannot be read back,
# are judged by structure alone, at the strict bound the pHash-only rule used.
STRUCTURE_ONLY_DISTANCE = 6
# A smooth candidate (texture under SMOOTH_TEXTURE) whose colour layout is this close
# (mean CIELAB distance) to a stored one is that picture, whatever pHash says.
SAME_COLOURS = 1.0
SMOOTH_TEXTURE = 4.0  # mean grey step between neighbouring pixels of a 64x64 copy

_SRGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])  # D65


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB values in 0..255, along the last axis."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def colour_layout(rgb: Image.Image) -> str:
    """The 4x4 grid's mean colours in CIELAB, quantised to bytes, as 96 hex digits."""
    rgb = rgb if rgb.mode == "RGB" else rgb.convert("RGB")  # convert would copy an RGB one
    cells = np.asarray(rgb.resize((CELLS, CELLS), Image.Resampling.BOX))
    lab = srgb_to_lab(cells).reshape(-1, 3)
    quantised = np.column_stack(
        [np.clip(np.round(lab[:, 0] * 2.55), 0, 255), np.clip(np.round(lab[:, 1:] + 128), 0, 255)]
    )
    return quantised.astype(np.uint8).tobytes().hex()


def texture(rgb: Image.Image) -> float:
    """How busy a picture is: the mean grey step between neighbours in a 64x64 copy.

    Still water and fog measure 0 to 2.4 here (their copies too); the demo's calmest
    textured moods 6 and more, a picture of noise 26.
    """
    grey = np.asarray(rgb.convert("L").resize((64, 64), Image.Resampling.BOX), np.float32)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def layout_array(layout: str) -> np.ndarray | None:
    """The (16, 3) CIELAB cells of a stored layout; None when there is none."""
    if len(layout or "") != LAYOUT_HEX:
        return None
    raw = np.frombuffer(bytes.fromhex(layout), dtype=np.uint8).reshape(-1, 3).astype(np.float32)
    return np.column_stack([raw[:, 0] / 2.55, raw[:, 1:] - 128])


def colour_distance(a: str, b: str) -> float:
    """Mean CIELAB distance between two layouts' cells (0 for the same colours)."""
    left, right = layout_array(a), layout_array(b)
    if left is None or right is None:
        raise ValueError("both images need a colour layout")
    return float(np.linalg.norm(left - right, axis=1).mean())


@dataclass(frozen=True)
class Match:
    image_id: int  # PENDING (0) for an image of this run whose row is not committed yet
    hash_distance: int  # pHash bits that differ
    colour_distance: float | None  # None: the stored image has no colour layout
    position: int = -1  # in the index

    def describe(self) -> str:
        colour = (
            "no colour layout"
            if self.colour_distance is None
            else f"colour distance {self.colour_distance:.1f}"
        )
        return f"perceptual hash distance {self.hash_distance}, {colour}"


class ImageIndex:
    """Known sha256s, perceptual hashes and colour layouts, for duplicate checks in memory.

    An image may be added as ``PENDING`` (its row not committed yet: a crawl's staged
    images) and later settled with its id, or dropped. The arrays double when full
    (appending one by one with np.append copies them all each time: quadratic over a
    crawl).
    """

    def __init__(self, rows: list[tuple[int, str, str, str]]):
        self.by_sha: dict[str, int] = {}
        self._ids: list[int] = []
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self._layouts = np.zeros((1024, CELLS * CELLS, 3), dtype=np.float32)
        self._known = np.zeros(1024, dtype=bool)  # has a colour layout
        self._valid = np.zeros(1024, dtype=bool)  # not a dropped pending image
        self._count = 0
        for image_id, sha, phash, layout in rows:
            if phash:
                self.add(image_id, sha, phash, layout)
            else:
                self.by_sha[sha] = image_id

    def __len__(self) -> int:
        return self._count

    def nearest(self, phash: str) -> tuple[int, int] | None:
        """(image id, Hamming distance) of the closest known perceptual hash."""
        bits = self._bits(phash)
        if bits is None:
            return None
        best = int(np.argmin(bits))
        return self._ids[best], int(bits[best])

    def _bits(self, phash: str) -> np.ndarray | None:
        """Each entry's pHash distance to ``phash`` (dropped ones 255); None when empty."""
        valid = self._valid[: self._count]
        if not valid.any():
            return None
        xor = np.bitwise_xor(self._hashes[: self._count], np.uint64(int(phash, 16)))
        bits = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        bits[~valid] = 255
        return bits

    def match(
        self, phash: str, layout: str, *, max_bits: int, max_colour: float, smooth: bool = False
    ) -> Match | None:
        """The closest stored image that is near in structure and in colour, if any.

        pHash is unstable on smooth pictures (most of its coefficients sit near the
        median, so halving a still-water picture flipped 28 of 64 bits here): for a
        ``smooth`` candidate, layouts closer than SAME_COLOURS, well under a
        just-noticeable difference in every cell, are a near-duplicate whatever pHash
        says. (Not for busy ones: pictures of the same colours with different noise
        or texture have all but equal layouts too.) The match's id is ``PENDING`` for
        an image not committed yet; ``position`` says which.
        """
        bits = self._bits(phash)
        if bits is None:
            return None
        n = self._count
        valid, known = self._valid[:n], self._known[:n]
        cells = layout_array(layout)
        colour = np.full(n, np.inf)
        if cells is not None and known.any():
            diff = self._layouts[:n][known] - cells[None]
            colour[known] = np.linalg.norm(diff, axis=2).mean(axis=1)
        near = (bits <= max_bits) & (colour <= max_colour)
        if smooth:
            near |= colour <= SAME_COLOURS
        # A stored image without a layout: structure alone, at the old strict bound.
        near |= ~known & (bits <= STRUCTURE_ONLY_DISTANCE)
        near &= valid
        if not near.any():
            return None
        candidates = np.flatnonzero(near)
        best = int(candidates[np.lexsort((bits[candidates], colour[candidates]))[0]])
        found = float(colour[best]) if known[best] else None
        return Match(self._ids[best], int(bits[best]), found, best)

    def add(self, image_id: int, sha256: str, phash: str, layout: str = "") -> int:
        """Add an image (``PENDING`` until its row exists); its position in the index."""
        if self._count == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
            self._layouts = np.concatenate([self._layouts, np.zeros_like(self._layouts)])
            self._known = np.concatenate([self._known, np.zeros_like(self._known)])
            self._valid = np.concatenate([self._valid, np.zeros_like(self._valid)])
        position = self._count
        cells = layout_array(layout)
        self._hashes[position] = np.uint64(int(phash, 16))
        if cells is not None:
            self._layouts[position] = cells
        self._known[position] = cells is not None
        self._valid[position] = True
        self._ids.append(image_id)
        self._count += 1
        self.by_sha[sha256] = image_id
        return position

    def settle(self, position: int, sha256: str, image_id: int | None) -> None:
        """A pending image got its row (``image_id``) or was dropped (None)."""
        if image_id is None:
            self._valid[position] = False
            self.by_sha.pop(sha256, None)
        else:
            self._ids[position] = image_id
            self.by_sha[sha256] = image_id


def load_index(database: Database, display_of: Callable[[str], Path]) -> ImageIndex:
    """The index of stored images; images stored before colour layouts get theirs now.

    Their layout is read from the display copy (``display_of(sha256)``) and written to
    the row; one whose display copy is missing is judged by structure alone.
    """
    with database.session() as session:
        found = session.execute(
            select(ImageRow.id, ImageRow.sha256, ImageRow.phash, ImageRow.colour_layout)
        ).all()
    rows: list[tuple[int, str, str, str]] = [(r[0], r[1], r[2], r[3]) for r in found]
    backfill = {}
    for i, (image_id, sha, phash, layout) in enumerate(rows):
        if layout or not phash:
            continue
        try:
            with open_readable(display_of(sha), ("JPEG",)) as display:
                backfill[image_id] = colour_layout(display)
        except (OSError, ValueError):
            continue
        rows[i] = (image_id, sha, phash, backfill[image_id])
    if backfill:
        with database.session() as session:
            for image_id, layout in backfill.items():
                session.execute(
                    update(ImageRow).where(ImageRow.id == image_id).values(colour_layout=layout)
                )
    return ImageIndex(rows)
