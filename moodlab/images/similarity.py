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

from dataclasses import dataclass

import numpy as np
from PIL import Image

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
    cells = np.asarray(rgb.convert("RGB").resize((CELLS, CELLS), Image.Resampling.BOX))
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
    image_id: int
    hash_distance: int  # pHash bits that differ
    colour_distance: float | None  # None: the stored image has no colour layout

    def describe(self) -> str:
        colour = (
            "no colour layout"
            if self.colour_distance is None
            else f"colour distance {self.colour_distance:.1f}"
        )
        return f"perceptual hash distance {self.hash_distance}, {colour}"


class ImageIndex:
    """Known sha256s, perceptual hashes and colour layouts, for duplicate checks in memory."""

    def __init__(self, rows: list[tuple[int, str, str, str]]):
        self.by_sha = {sha: image_id for image_id, sha, _, _ in rows}
        self._ids: list[int] = []
        hashes: list[int] = []
        layouts: list[np.ndarray] = []
        known: list[bool] = []
        for image_id, _, phash, layout in rows:
            if not phash:
                continue
            cells = layout_array(layout)
            self._ids.append(image_id)
            hashes.append(int(phash, 16))
            known.append(cells is not None)
            layouts.append(cells if cells is not None else np.zeros((CELLS * CELLS, 3)))
        self._hashes = np.array(hashes, dtype=np.uint64)
        self._layouts = np.array(layouts, dtype=np.float32).reshape(-1, CELLS * CELLS, 3)
        self._known = np.array(known, dtype=bool)

    def match(
        self, phash: str, layout: str, *, max_bits: int, max_colour: float, smooth: bool = False
    ) -> Match | None:
        """The closest stored image that is near in structure and in colour, if any.

        pHash is unstable on smooth pictures (most of its coefficients sit near the
        median, so halving a still-water picture flipped 28 of 64 bits here): for a
        ``smooth`` candidate, layouts closer than SAME_COLOURS, well under a
        just-noticeable difference in every cell, are a near-duplicate whatever pHash
        says. (Not for busy ones: pictures of the same colours with different noise
        or texture have all but equal layouts too.)
        """
        if not len(self._hashes):
            return None
        xor = np.bitwise_xor(self._hashes, np.uint64(int(phash, 16)))
        bits = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        cells = layout_array(layout)
        colour = np.full(len(bits), np.inf)
        if cells is not None and self._known.any():
            diff = self._layouts[self._known] - cells[None]
            colour[self._known] = np.linalg.norm(diff, axis=2).mean(axis=1)
        near = (bits <= max_bits) & (colour <= max_colour)
        if smooth:
            near |= colour <= SAME_COLOURS
        # A stored image without a layout: structure alone, at the old strict bound.
        near |= ~self._known & (bits <= STRUCTURE_ONLY_DISTANCE)
        if not near.any():
            return None
        candidates = np.flatnonzero(near)
        best = int(candidates[np.lexsort((bits[candidates], colour[candidates]))[0]])
        found = float(colour[best]) if self._known[best] else None
        return Match(self._ids[best], int(bits[best]), found)

    def add(self, image_id: int, sha256: str, phash: str, layout: str) -> None:
        self.by_sha[sha256] = image_id
        cells = layout_array(layout)
        self._ids.append(image_id)
        self._hashes = np.append(self._hashes, np.uint64(int(phash, 16)))
        filled = cells if cells is not None else np.zeros((CELLS * CELLS, 3), dtype=np.float32)
        self._layouts = np.concatenate([self._layouts, filled[None].astype(np.float32)])
        self._known = np.append(self._known, cells is not None)
