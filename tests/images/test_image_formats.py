"""Decoders by allow-list: a file's format is read from its bytes and checked first.

A PostScript file named photo.jpg, arriving by every way images arrive, must never
reach Ghostscript: a stand-in `gs`, first on PATH, leaves a marker file if anything
runs it. Other formats moodlab does not read are refused before their decoder runs.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image, UnidentifiedImageError

from moodlab.images import formats
from moodlab.images.checks import Rejected, check_image
from moodlab.images.crawl import CrawlParams, crawl
from moodlab.images.importer import ImportParams, import_path
from moodlab.images.intake import IntakeResult
from moodlab.images.uploads import save_uploads
from tests import media
from tests.conftest import run_job
from tests.fixture_site import Site

LIMITS = {"max_pixels": 8_000_000, "min_side": 64, "max_bytes": 5_000_000, "max_memory": 10**9}


@pytest.fixture
def ghostscript_marker(tmp_path, monkeypatch) -> Path:
    """A stand-in `gs`, first on PATH, that writes this marker file whenever it runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "ghostscript-ran"
    gs = bin_dir / "gs"
    gs.write_text(f"#!/bin/sh\necho \"$@\" >> '{marker}'\nexit 0\n")
    gs.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return marker


def rejected_as(report_rejected: list[dict], name: str) -> dict:
    return next(entry for entry in report_rejected if entry["source"].endswith(name))


def assert_ghostscript_never_ran(marker: Path) -> None:
    assert not marker.exists(), f"Ghostscript ran: gs {marker.read_text()}"


def assert_refused_as_postscript(entry: dict) -> None:
    assert entry["kind"] == "unsupported", entry
    assert entry["reason"].startswith("unsupported image format PostScript/EPS"), entry


def test_the_postscript_file_runs_ghostscript_when_pillow_tries_every_plugin(ghostscript_marker):
    # The control: a process without moodlab, opening with every plugin, runs the stand-in.
    code = "import io, sys; from PIL import Image; Image.open(io.BytesIO(sys.stdin.buffer.read()))"
    code += ".load()"
    subprocess.run([sys.executable, "-c", code], input=media.POSTSCRIPT, capture_output=True)
    assert ghostscript_marker.exists()


def test_a_folder_import_refuses_postscript_named_jpg(
    settings, database, tmp_path, ghostscript_marker
):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(media.POSTSCRIPT)
    (folder / "good.jpg").write_bytes(media.jpeg(1))
    report = import_path(folder, settings, database)
    assert_ghostscript_never_ran(ghostscript_marker)
    assert report.stored == 1
    assert_refused_as_postscript(rejected_as(report.rejected, "photo.jpg"))


def test_a_zip_import_refuses_postscript_named_jpg(
    settings, database, tmp_path, ghostscript_marker
):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("trip/photo.jpg", media.POSTSCRIPT)
        zf.writestr("trip/good.jpg", media.jpeg(2))
    report = import_path(archive, settings, database)
    assert_ghostscript_never_ran(ghostscript_marker)
    assert report.stored == 1
    assert_refused_as_postscript(rejected_as(report.rejected, "photo.jpg"))


def test_an_upload_refuses_postscript_named_jpg(settings, database, lead, ghostscript_marker):
    # What the Crawl & import page does with the files of its upload form.
    path, names = save_uploads(
        settings, [("photo.jpg", media.POSTSCRIPT), ("b.jpg", media.jpeg(3))]
    )
    job = run_job(settings, database, lead, ImportParams(path=str(path), names=names))
    assert_ghostscript_never_ran(ghostscript_marker)
    result = IntakeResult.from_json(job.result)
    assert result.stored == 1
    entry = rejected_as(result.rejected, "photo.jpg")
    assert entry["source"] == "photo.jpg"
    assert_refused_as_postscript(entry)


def test_a_crawl_refuses_postscript_served_as_jpeg(settings, database, ghostscript_marker):
    site = Site().start()
    try:
        site.page("/", '<img src="/photo.jpg"> <img src="/good.jpg">')
        site.add("/photo.jpg", media.POSTSCRIPT, "image/jpeg")
        site.add("/good.jpg", media.jpeg(4), "image/jpeg")
        params = CrawlParams(seeds=[site.url("/")], allow_private=True, delay=0.01, depth=1)
        report = crawl(settings, database, params.options(settings))
    finally:
        site.stop()
    assert_ghostscript_never_ran(ghostscript_marker)
    assert site.requested("/photo.jpg") == 1
    assert report.stored == 1
    assert_refused_as_postscript(rejected_as(report.rejected, "photo.jpg"))


def test_no_pillow_call_in_a_moodlab_process_reaches_the_eps_plugin(ghostscript_marker):
    Image.init()  # all the plugins a caller that names no format gets
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(media.POSTSCRIPT)).load()
    assert_ghostscript_never_ran(ghostscript_marker)
    assert sys.modules.get("PIL.EpsImagePlugin") is None
    assert "EPS" not in Image.OPEN


def pillow_calls(action) -> tuple[set[str], BaseException | None]:
    """The Pillow functions (module.function) that ran during ``action``, and what it raised."""
    seen: set[str] = set()

    def profile(frame, event, arg):
        if event == "call" and f"{os.sep}PIL{os.sep}" in frame.f_code.co_filename:
            seen.add(f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name}")

    raised = None
    sys.setprofile(profile)
    try:
        action()
    except BaseException as exc:
        raised = exc
    finally:
        sys.setprofile(None)
    return seen, raised


@pytest.mark.parametrize(
    ("fmt", "plugin", "named"),
    [
        ("PPM", "PpmImagePlugin", "Netpbm"),
        ("TGA", "TgaImagePlugin", "TGA"),
        ("ICO", "IcoImagePlugin", "ICO"),
    ],
)
def test_formats_moodlab_does_not_read_are_refused_before_their_decoder_runs(fmt, plugin, named):
    data = media.encode(media.picture(5, (200, 150)), fmt)
    calls, raised = pillow_calls(lambda: check_image(data, **LIMITS))  # as photo.jpg: bytes only
    assert isinstance(raised, Rejected), raised
    assert raised.kind == "unsupported"
    assert raised.reason.startswith(f"unsupported image format {named}"), raised.reason
    assert "not decoded" in raised.reason
    assert not [call for call in calls if call.startswith(f"{plugin}.")], calls
    assert "ImageFile.load" not in calls  # no decoder of any format ran


def test_a_readable_format_is_opened_by_its_own_plugin_only():
    calls, raised = pillow_calls(lambda: check_image(media.png(6), **LIMITS))
    assert raised is None
    tried = {call.split(".")[0] for call in calls if call.endswith(("._accept", "._open"))}
    assert tried == {"PngImagePlugin"}, tried  # before: BMP, GIF, JPEG and PPM were asked first


@pytest.mark.parametrize(
    ("data", "kind", "reason"),
    [
        (b"%PDF-1.7\n...", "not_image", "not an image: a PDF document"),
        (b"<!DOCTYPE html><html></html>", "not_image", "not an image: an HTML page"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "unsupported", "SVG"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "unsupported", "HEIC"),
        (b"8BPS\x00\x01" + bytes(40), "unsupported", "PSD"),
        (b"just some text", "not_image", "not an image: the bytes begin like none of JPEG"),
        (b"GIF89a but not really", "not_image", "it begins like a GIF file, but is not one"),
        (b"\xff\xd8\xff\xe0 not really a JPEG", "corrupt", "truncated or corrupt image"),
    ],
)
def test_each_refusal_names_what_the_bytes_are(data, kind, reason):
    with pytest.raises(Rejected) as rejected:
        check_image(data, **LIMITS)
    assert rejected.value.kind == kind
    assert reason in rejected.value.reason, rejected.value.reason


def test_files_moodlab_wrote_are_opened_only_as_what_it_wrote(tmp_path):
    display = tmp_path / "display.jpg"
    display.write_bytes(media.png(7))  # a PNG where a JPEG display copy should be
    with pytest.raises(UnidentifiedImageError):
        formats.open_readable(display, ("JPEG",))
    assert formats.open_readable(media.png(7), ("PNG",)).format == "PNG"
