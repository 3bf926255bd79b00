"""The one rule for turning any picture into the model's square input.

Center-crop, not letterbox: the shorter side is scaled to the target and the
middle square is kept. Letterboxing would add black bars whose size follows the
aspect ratio (every 16:9 video frame would carry them, most photos would not),
and the network would learn the bars as a cue. Cropping keeps natural image
statistics; mood is carried by colour, light and content, which survive losing
the edges. Training thumbnails and sampled video frames both use this rule.
"""

from __future__ import annotations

from PIL import Image, ImageOps

# The paper's input size (Table 2): 128x128 RGB.
MODEL_SIDE = 128
# Longest side of the copy pages show: st.image re-encodes anything wider than
# about 1460 px on every rerun (77 ms for a 3000x2000 photo).
DISPLAY_SIDE = 1280


def square_crop(image: Image.Image, side: int = MODEL_SIDE) -> Image.Image:
    """Scale the shorter side to ``side`` and keep the centred ``side`` x ``side`` square."""
    return ImageOps.fit(image, (side, side), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def ffmpeg_square_crop_filter(side: int = MODEL_SIDE) -> str:
    """The same rule as an ffmpeg filter, for frames sampled from videos."""
    return (
        f"scale={side}:{side}:force_original_aspect_ratio=increase:flags=lanczos,crop={side}:{side}"
    )


def display_copy(image: Image.Image, longest: int = DISPLAY_SIDE) -> Image.Image:
    """A copy no larger than ``longest`` on its longest side (never enlarged)."""
    if max(image.size) <= longest:
        return image.copy()
    copy = image.copy()
    copy.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    return copy
