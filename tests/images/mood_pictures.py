"""400 distinct synthetic mood pictures that reproduce the near-duplicate filter's bias.

High- and mid-arousal moods use the demo's generator (moodlab.demo_data.picture: textured,
busy). The three calmest moods (Depressed, Tired, Peaceful) get what calm photos often
are: a still-water horizon, a smooth sky gradient above darker water, without texture.
Each differs from the others in its sky and water colours and its horizon's height,
so no two look alike, but their luminance *structure* is nearly the same, and pHash
alone called them all one picture (issue 14: Depressed 1 of 50, Tired 0, Peaceful 0).
"""

from __future__ import annotations

import colorsys
import hashlib
import io

import numpy as np
from PIL import Image

from moodlab.core import moods
from moodlab.demo_data import picture as demo_picture

SIZE = (320, 240)


def horizon(mood: str, n: int, size: tuple[int, int] = SIZE) -> bytes:
    """A JPEG of a calm horizon in the mood's colours (per-picture colours and height)."""
    spec = moods.get(mood)
    rng = np.random.default_rng(int(hashlib.sha256(f"fog:{mood}:{n}".encode()).hexdigest()[:8], 16))
    width, height = size
    y = np.linspace(0, 1, height)[:, None]
    hue = spec.angle / 360 + rng.uniform(-0.06, 0.06)
    sky = np.array(colorsys.hsv_to_rgb(hue % 1, rng.uniform(0.1, 0.55), rng.uniform(0.55, 0.95)))
    water_hue = (hue + rng.uniform(-0.08, 0.08)) % 1
    water = np.array(colorsys.hsv_to_rgb(water_hue, rng.uniform(0.1, 0.55), rng.uniform(0.25, 0.6)))
    line = rng.uniform(0.45, 0.65)
    t = 1 / (1 + np.exp(-(y - line) / 0.05))
    rgb = np.broadcast_to((sky * (1 - t) + water * t)[:, None, :], (height, width, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(rgb * 255, 0, 255).astype("uint8")).save(out, "JPEG", quality=88)
    return out.getvalue()


def calm(mood: str) -> bool:
    return moods.get(mood).arousal < -0.5


def mood_picture(mood: str, n: int) -> bytes:
    return horizon(mood, n) if calm(mood) else demo_picture(mood, n)


def copies(data: bytes) -> dict[str, bytes]:
    """The copies a near-duplicate filter must still catch: resized, recompressed, cropped."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size
    dx, dy = round(width * 0.015), round(height * 0.015)  # 3% of each side's length in all

    def jpeg(picture: Image.Image, quality: int = 88) -> bytes:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality)
        return out.getvalue()

    return {
        "half": jpeg(image.resize((width // 2, height // 2), Image.Resampling.LANCZOS)),
        "q60": jpeg(image, quality=60),
        "crop3": jpeg(image.crop((dx, dy, width - dx, height - dy))),
    }
