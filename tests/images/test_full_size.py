"""The full-resolution original a zoom shows: as stored where browsers read it, else a PNG."""

import io

import pytest
from PIL import Image

from moodlab.core.errors import NotFound
from moodlab.core.models import Image as ImageRow
from moodlab.core.storage import ContentStore
from moodlab.images.full_size import full_image
from moodlab.images.intake import Intake, Provenance, display_path
from tests import media


def test_a_large_jpeg_comes_as_stored_not_as_its_display_copy(settings, database, annotator):
    data = media.jpeg(11, (2400, 1600))
    image_id = Intake(settings, database).add_bytes(data, Provenance(source="big.jpg"))
    store = ContentStore(settings.data_dir)
    with database.session() as session:
        found = full_image(session=session, actor=annotator, store=store, image_id=image_id)
    assert (found.media_type, found.data) == ("image/jpeg", data)
    with database.session() as session:
        sha256 = session.get_one(ImageRow, image_id).sha256
    with Image.open(display_path(store, sha256)) as shown:  # what the page shows unzoomed
        assert shown.size == (1280, 853)


def test_a_tiff_which_browsers_do_not_read_comes_as_a_png_of_its_pixels(
    settings, database, annotator
):
    picture = media.picture(12, (1600, 1400))
    data = media.encode(picture, "TIFF")
    image_id = Intake(settings, database).add_bytes(data, Provenance(source="scan.tif"))
    with database.session() as session:
        found = full_image(
            session=session,
            actor=annotator,
            store=ContentStore(settings.data_dir),
            image_id=image_id,
        )
    assert found.media_type == "image/png"
    with Image.open(io.BytesIO(found.data), formats=["PNG"]) as full:
        assert full.size == (1600, 1400)
        assert full.convert("RGB").tobytes() == picture.convert("RGB").tobytes()


def test_an_unknown_id_is_named(settings, database, annotator):
    store = ContentStore(settings.data_dir)
    with database.session() as session, pytest.raises(NotFound, match="no image with id 99"):
        full_image(session=session, actor=annotator, store=store, image_id=99)
