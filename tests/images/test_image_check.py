import io

import numpy as np
import pytest
from PIL import Image

from moodlab.images.checks import Rejected, check_image
from moodlab.images.importer import import_path
from moodlab.images.resize import ffmpeg_square_crop_filter, square_crop
from tests import media

LIMITS = {"max_pixels": 8_000_000, "min_side": 64, "max_bytes": 5_000_000, "max_memory": 10**9}


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_exif_orientation_is_applied():
    landscape = media.picture(1, (300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": the camera was held upright
    data = media.encode(landscape, "JPEG", exif=exif.tobytes())
    checked = check_image(data, **LIMITS)
    assert (checked.width, checked.height) == (200, 300)
    assert decode(checked.display_jpeg).size == (200, 300)
    assert checked.data == data  # the original is kept as it came


def test_transparent_parts_become_neutral_grey_and_opaque_parts_keep_their_colour():
    cut_out = Image.new("RGBA", (200, 200), (255, 0, 0, 0))  # red under alpha 0: not shown
    cut_out.paste((0, 0, 255, 255), (50, 50, 150, 150))  # an opaque blue square
    checked = check_image(media.encode(cut_out, "PNG"), **LIMITS)
    thumb = decode(checked.thumbnail_png)
    assert thumb.mode == "RGB"
    assert thumb.getpixel((4, 4)) == (128, 128, 128)
    assert thumb.getpixel((64, 64)) == (0, 0, 255)


def test_a_translucent_picture_shows_its_own_colours():
    picture = media.picture(31, (200, 150))
    translucent = picture.convert("RGBA")
    translucent.putalpha(10)  # 4% opaque all over, as a wallpaper tile meant for overlays
    checked = check_image(media.encode(translucent, "PNG"), **LIMITS)
    shown = np.asarray(decode(checked.display_jpeg).convert("RGB"), dtype=np.float64)
    assert np.abs(shown - np.asarray(picture, dtype=np.float64)).mean() < 3  # JPEG's error


def test_different_translucent_pictures_are_not_near_duplicates(settings, database, tmp_path):
    folder = tmp_path / "wallpapers"
    folder.mkdir()
    for seed in range(5):
        wallpaper = media.picture(40 + seed, (300, 200)).convert("RGBA")
        wallpaper.putalpha(3)  # 1% opaque: on white, all five were one smooth near-white tile
        (folder / f"wallpaper-{seed}.png").write_bytes(media.encode(wallpaper, "PNG"))
    report = import_path(folder, settings, database)
    assert report.duplicates == 0, report.duplicate_sources  # before: 4 of the 5
    assert report.stored == 5


def test_the_thumbnail_is_the_centre_square():
    # Left third red, middle third green, right third blue: the crop keeps the middle.
    bands = np.zeros((100, 300, 3), dtype=np.uint8)
    bands[:, :100, 0] = bands[:, 100:200, 1] = bands[:, 200:, 2] = 255
    thumb = square_crop(Image.fromarray(bands))
    assert thumb.size == (128, 128)
    r, g, b = np.asarray(thumb).reshape(-1, 3).mean(axis=0)
    assert g > 250 and r < 5 and b < 5


def test_display_copy_is_at_most_1280_and_never_enlarged():
    big = check_image(media.jpeg(2, (3000, 2000)), **LIMITS)
    assert decode(big.display_jpeg).size == (1280, 853)
    small = check_image(media.jpeg(3, (300, 200)), **LIMITS)
    assert decode(small.display_jpeg).size == (300, 200)


def test_the_ffmpeg_filter_states_the_same_rule():
    assert ffmpeg_square_crop_filter(128) == (
        "scale=128:128:force_original_aspect_ratio=increase:flags=lanczos,crop=128:128"
    )


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "not_image"),
        (b"GIF89a but not really", "not_image"),
        (media.truncated_jpeg(4), "corrupt"),
        (media.png(5, (63, 200)), "too_small"),
        (media.bomb_png(4000), "bomb"),
        (b"\0" * 6_000_000, "too_large"),
    ],
)
def test_bad_images_are_rejected_with_a_kind(data, kind):
    with pytest.raises(Rejected) as rejected:
        check_image(data, **LIMITS)
    assert rejected.value.kind == kind, rejected.value.reason


def test_resized_and_reencoded_copies_have_close_perceptual_hashes():
    import imagehash

    original = media.picture(7, (400, 300))
    copy = check_image(media.encode(original.resize((320, 240)), "JPEG", quality=50), **LIMITS)
    other = check_image(media.jpeg(8, (400, 300)), **LIMITS)
    base = check_image(media.encode(original, "PNG"), **LIMITS)
    near = imagehash.hex_to_hash(base.phash) - imagehash.hex_to_hash(copy.phash)
    far = imagehash.hex_to_hash(base.phash) - imagehash.hex_to_hash(other.phash)
    assert near <= 6 < 16 <= far


def thumbnail_grey(checked) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(checked.thumbnail_png)).convert("L"))


@pytest.mark.parametrize(
    ("samples", "fmt"),
    [
        (np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (256, 1)), "PNG"),  # "I;16"
        (np.tile(np.linspace(0, 65535, 256).astype(np.int32), (256, 1)), "TIFF"),  # "I"
        (np.tile(np.linspace(0, 4_000_000, 256).astype(np.int32), (256, 1)), "TIFF"),
        (np.tile(np.linspace(0, 1, 256).astype(np.float32), (256, 1)), "TIFF"),  # "F"
        (np.tile(np.linspace(-3, 250, 256).astype(np.float32), (256, 1)), "TIFF"),
    ],
)
def test_wide_grey_images_are_scaled_to_8_bits_not_clipped(samples, fmt):
    # A square ramp, so the 128x128 thumbnail (a centre crop) holds all of it.
    from PIL import Image

    image = Image.fromarray(samples)
    assert image.mode in ("I;16", "I", "F")
    checked = check_image(media.encode(image, fmt), **LIMITS)
    grey = thumbnail_grey(checked)
    histogram = np.bincount(grey.ravel(), minlength=256)
    assert grey.min() <= 5 and grey.max() >= 250  # the ramp spans the range
    assert histogram[250:].sum() / grey.size < 0.05  # not 99% white, as clipping made it
    assert (histogram > 0).sum() >= 100  # and keeps its steps


def test_a_16_bit_grey_png_keeps_its_exposure():
    from PIL import Image

    dark = Image.fromarray(np.full((100, 100), 16_384, dtype=np.uint16))  # a quarter of 16 bits
    checked = check_image(media.encode(dark, "PNG"), **LIMITS)
    assert abs(int(thumbnail_grey(checked).mean()) - 64) <= 1


def test_an_original_that_fits_is_its_own_display_copy():
    small = check_image(media.jpeg(7, (300, 200)), **LIMITS)
    assert small.display_encoded is None and small.display_jpeg == small.data
    big = check_image(media.jpeg(8, (1600, 1200)), **LIMITS)
    assert big.display_encoded is not None and decode(big.display_jpeg).size == (1280, 960)
    png = check_image(media.png(9, (300, 200)), **LIMITS)
    assert png.display_encoded is not None  # pages get a JPEG
