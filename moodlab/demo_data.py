"""The demo's data: photographs labelled by the team, generated mood pictures where a
mood has too few photographs, and simulated annotators' answers.

The photographs are wallpapers from Debian packages, downscaled to 400 px and kept in
moodlab/demo_photos/ with ATTRIBUTION.csv (file, mood, package and version, original
path, author, licence); the mood of each is the team's label, given by looking at it.
Generated pictures take their colour from the mood's angle on Russell's circle (neighbouring
moods look alike, as real ones do) and their texture from arousal: sharp, busy
patterns for high arousal, soft blurred gradients for low. `moodlab demo` builds its
workspace from them (moodlab.demo; docs/architecture.md, "Layering and package layout").
"""

from __future__ import annotations

import colorsys
import csv
import hashlib
import io
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.reuse import KeptFiles

PICTURE_SIZE = (320, 240)
PHOTOS = Path(__file__).parent / "demo_photos"
ATTRIBUTION = PHOTOS / "ATTRIBUTION.csv"


@dataclass(frozen=True)
class Photo:
    """One of the demo's photographs, as ATTRIBUTION.csv credits it."""

    file: str
    mood: str  # the team's label
    package: str  # the Debian package it came from
    version: str
    original: str  # its path in that package
    author: str
    licence: str

    @property
    def path(self) -> Path:
        return PHOTOS / self.file


def photos() -> list[Photo]:
    """The demo's photographs in file order; raise ValueError for a row that does not hold."""
    with open(ATTRIBUTION, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = []
    for line, row in enumerate(rows, start=2):
        photo = Photo(**row)
        if not photo.author.strip() or not photo.licence.strip():
            raise ValueError(f"{ATTRIBUTION} line {line}: {photo.file} has no author or licence")
        if Path(photo.file).name != photo.file or not photo.path.is_file():
            raise ValueError(f"{ATTRIBUTION} line {line}: no photograph {photo.file!r}")
        try:
            found.append(replace(photo, mood=moods.get(photo.mood).name))
        except moods.UnknownMood as exc:
            raise ValueError(f"{ATTRIBUTION} line {line}: {exc}") from None
    return sorted(found, key=lambda photo: photo.file)


def picture(mood: str, n: int, size: tuple[int, int] = PICTURE_SIZE) -> bytes:
    """A JPEG whose colours and texture carry ``mood`` (with per-picture variety)."""
    from PIL import Image, ImageDraw, ImageFilter

    spec = moods.get(mood)
    rng = np.random.default_rng(int(hashlib.sha256(f"{mood}:{n}".encode()).hexdigest()[:8], 16))
    energy = (spec.arousal + 1) / 2  # 0 calm .. 1 excited
    hue = (spec.angle / 360 + rng.normal(0, 0.035)) % 1
    light = 0.35 + 0.25 * (spec.valence + 1) / 2 + rng.normal(0, 0.05)
    saturation = 0.25 + 0.6 * energy
    width, height = size
    # float32 on an open grid: the build makes hundreds of these (half the time of float64)
    y = (np.arange(height, dtype=np.float32) / max(size))[:, None]
    x = (np.arange(width, dtype=np.float32) / max(size))[None, :]
    angle = rng.uniform(0, np.pi)
    frequency = 2 + 40 * energy**2 * rng.uniform(0.7, 1.3)
    wave = np.sin(
        (x * math.cos(angle) + y * math.sin(angle)) * frequency * math.pi + rng.uniform(0, 6)
    )
    pattern = np.sign(wave) if energy > 0.6 else wave  # hard edges when excited
    shade = np.clip(light + 0.18 * pattern * (0.3 + energy) + 0.15 * (y - 0.4), 0, 1)
    rgb = np.stack(
        [colorsys.hsv_to_rgb(hue, saturation, 1.0)[c] * shade for c in range(3)], axis=-1
    )
    image = Image.fromarray((rgb * 255).astype("uint8"))
    draw = ImageDraw.Draw(image)
    for _ in range(int(3 + 12 * energy)):  # shapes: many small jagged ones, or a few soft blobs
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(8, 30 + 50 * (1 - energy))
        tone = colorsys.hsv_to_rgb((hue + rng.normal(0, 0.08)) % 1, saturation, light + 0.3)
        fill = tuple(int(255 * min(1, c)) for c in tone)
        if energy > 0.6:
            points = [
                (cx + r * np.cos(t), cy + r * rng.uniform(0.3, 1) * np.sin(t))
                for t in np.linspace(0, 2 * np.pi, 7)
            ]
            draw.polygon(points, fill=fill)
        else:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    if energy < 0.4:
        image = image.filter(ImageFilter.GaussianBlur(2 + 4 * (0.4 - energy)))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, (height, width, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype("uint8")).save(out, "JPEG", quality=88)
    return out.getvalue()


def simulated_vote(
    mood: str, skill: float, ambiguity: float, rng: np.random.Generator
) -> str | None:
    """One annotator's answer: usually the picture's mood, else mostly a neighbour; rarely skip."""
    if rng.random() < 0.02:
        return None
    if rng.random() < skill * (1 - 0.5 * ambiguity):
        return mood
    if rng.random() < 0.8:
        return str(rng.choice([m.name for m in moods.neighbours(mood)]))
    return str(rng.choice([m for m in moods.names() if m != mood]))


def check_kept_picture(content: bytes, _made: dict) -> None:
    """Raise ValueError unless ``content`` is a whole JPEG of the demo's picture size (a
    kept picture swapped for another file is not used: docs/security.md, "Kept files")."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(content), formats=["JPEG"]) as image:
            if image.size != PICTURE_SIZE:  # before decoding: the header says how big
                width, height = image.size
                raise ValueError(f"it is {width}x{height}, not {PICTURE_SIZE[0]}x{PICTURE_SIZE[1]}")
            image.load()
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"it is not a whole JPEG ({exc})") from None


def kept_pictures(
    settings: Settings, per_mood: int, *, have: dict[str, int] | None = None
) -> tuple[dict[tuple[str, int], bytes], int]:
    """{(mood, n): JPEG} for the demo, and how many were kept from an earlier build:
    ``per_mood`` a mood, less the ``have[mood]`` pictures it has already (photographs).

    The same code makes the same picture for a mood and a number, so each is kept in
    the cache dir once made (docs/architecture.md, "Generated files kept for reuse").
    """
    kept = KeptFiles(settings.cache_dir, "demo-pictures", sys.modules[__name__])
    pictures, reused = {}, 0
    for mood in moods.names():
        spec = moods.get(mood)
        for n in range(per_mood - (have or {}).get(mood, 0)):
            key = kept.key(mood, n, PICTURE_SIZE, spec.angle, spec.valence, spec.arousal)
            found = kept.get(key, ".jpg", check=check_kept_picture)
            if found is None:
                pictures[mood, n] = picture(mood, n)
                kept.keep(key, ".jpg", pictures[mood, n])
            else:
                pictures[mood, n] = found[0]
                reused += 1
    return pictures, reused


def _kept_features(settings: Settings) -> KeptFiles:
    from moodlab.training import backbone, features, lite0, lite0_weights

    return KeptFiles(settings.cache_dir, "demo-features", features, lite0, lite0_weights, backbone)


def _check_kept_features(content: bytes, _made: dict) -> None:
    """Raise ValueError unless ``content`` is one image's features as the backbone keeps them."""
    from moodlab.training import features, lite0

    row = np.load(io.BytesIO(content), allow_pickle=False)
    if row.shape != (lite0.FEATURES,) or row.dtype != features.DTYPE:
        raise ValueError(f"it holds {row.dtype} {row.shape}, not {lite0.FEATURES} float16")


def restore_features(settings: Settings, shas: list[str]) -> int:
    """Put the backbone features kept from an earlier build into the data dir, for the
    images ``shas`` that have none there; how many. Computing them is the slow part of a
    transfer run (about 20 images a second here), and the demo's images are the same
    from build to build (docs/architecture.md, "Generated files kept for reuse")."""
    from moodlab.core.storage import ContentStore
    from moodlab.training import features, lite0_weights

    kept, store, restored = _kept_features(settings), ContentStore(settings.data_dir), 0
    for sha in features.missing(store, shas):
        found = kept.get(
            kept.key(sha, features.KIND, lite0_weights.SHA256), ".npy", _check_kept_features
        )
        if found is not None:
            path = features.feature_path(store, sha)
            path.parent.mkdir(parents=True, exist_ok=True)
            restored += store.write_new(path, found[0], durable=False)
    return restored


def keep_features(settings: Settings, shas: list[str]) -> int:
    """Keep the data dir's backbone features of ``shas`` in the cache dir for the next
    build; how many were not kept before."""
    from moodlab.core.storage import ContentStore
    from moodlab.training import features, lite0_weights

    kept, store, added = _kept_features(settings), ContentStore(settings.data_dir), 0
    for sha in shas:
        key = kept.key(sha, features.KIND, lite0_weights.SHA256)
        path = features.feature_path(store, sha)
        if kept.recorded_sha256(key, ".npy") is None and path.is_file():
            kept.keep(key, ".npy", path)
            added += 1
    return added
