"""An image at its full resolution, for a person to zoom into (the Annotate page's tap).

The pages show a display copy of at most DISPLAY_SIDE px (moodlab.images.resize); a
zoom shows the stored original instead. A browser reads the original of most formats
as it is (and turns a JPEG upright by its EXIF orientation itself); a TIFF, which
browsers do not read, is sent as a PNG of the same pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import ImageOps
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.errors import NotFound
from moodlab.core.models import Image, Role
from moodlab.core.storage import ContentStore
from moodlab.images.formats import open_readable, sniff

# What browsers show as they are, by Pillow's format name, with their media type.
SHOWN_AS_IS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}


@dataclass(frozen=True)
class FullImage:
    image_id: int
    media_type: str
    data: bytes


def full_image(*, session: Session, actor: Actor, store: ContentStore, image_id: int) -> FullImage:
    """Image ``image_id``'s original, at full resolution, in a format browsers show.

    For the people who look at images to vote on them: annotators and the lead.
    """
    require_role(actor, Role.ANNOTATOR, Role.LEAD, action="look at images")
    image = session.get(Image, image_id)
    if image is None:
        raise NotFound(f"no image with id {image_id}")
    path = store.path_for(image.sha256, image.original_suffix)
    data = path.read_bytes()
    fmt = sniff(data)
    if fmt is None:
        raise NotFound(f"image {image_id}'s stored file is not an image any more")
    if fmt in SHOWN_AS_IS:
        return FullImage(image_id, SHOWN_AS_IS[fmt], data)
    with open_readable(data, (fmt,)) as opened:  # TIFF: formats.READABLE's only other one
        upright = ImageOps.exif_transpose(opened)
        buffer = io.BytesIO()
        upright.convert("RGBA" if "A" in upright.getbands() else "RGB").save(buffer, "PNG")
    return FullImage(image_id, "image/png", buffer.getvalue())
