"""Folder and zip imports with the same checks as the crawler."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import zipfile
from dataclasses import replace

import pytest

from moodlab.core.errors import MoodlabError
from moodlab.images import importer
from moodlab.images.importer import import_path
from tests import media
from tests.conftest import run_cli


def kinds(report) -> dict[str, str]:
    return {
        entry["source"].rsplit("/", 1)[-1].rsplit(":", 1)[-1]: entry["kind"]
        for entry in report.rejected
    }


def test_a_folder_import_stores_good_images_once(settings, database, tmp_path):
    folder = tmp_path / "dataset"
    (folder / "happy").mkdir(parents=True)
    (folder / "sad").mkdir()
    (folder / "happy" / "a.jpg").write_bytes(media.jpeg(1))
    (folder / "happy" / "b.png").write_bytes(media.png(2))
    (folder / "sad" / "a-again.jpg").write_bytes(media.jpeg(1))
    (folder / "sad" / "broken.jpg").write_bytes(media.truncated_jpeg(3))
    (folder / "sad" / "notes.jpg").write_text("not an image")
    (folder / "README.txt").write_text("a data set")
    (folder / ".hidden.jpg").write_bytes(media.jpeg(4))
    report = import_path(folder, settings, database)
    assert report.stored == 2
    assert report.duplicates == 1
    assert kinds(report) == {"broken.jpg": "corrupt", "notes.jpg": "not_image"}
    assert report.extra["files"] == 5


def test_a_zip_import_refuses_unsafe_names_and_stores_the_rest(settings, database, tmp_path):
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("moods/one.jpg", media.jpeg(10))
        zf.writestr("../../escape.jpg", media.jpeg(11))
        zf.writestr("/abs/path.jpg", media.jpeg(12))
        zf.writestr("moods/tiny.png", media.png(13, (10, 10)))
        zf.writestr("moods/bomb.png", media.bomb_png(4000))
    report = import_path(archive, replace(settings, max_image_pixels=4_000_000), database)
    assert report.stored == 1
    by_source = {entry["source"]: entry["kind"] for entry in report.rejected}
    assert by_source == {
        "upload.zip:../../escape.jpg": "unsafe_name",
        "upload.zip:/abs/path.jpg": "unsafe_name",
        "upload.zip:moods/tiny.png": "too_small",
        "upload.zip:moods/bomb.png": "bomb",
    }
    assert not (tmp_path.parent / "escape.jpg").exists()
    assert not list(settings.data_dir.rglob("escape*"))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"import_max_members": 2}, "holds 3 files, more than the limit of 2"),
        ({"import_max_total_bytes": 1000}, "would unpack to"),
    ],
)
def test_zip_bombs_are_refused_before_anything_is_read(
    settings, database, tmp_path, limits, message
):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"{i}.jpg", b"\0" * 100_000)
    with pytest.raises(MoodlabError, match=message):
        import_path(archive, replace(settings, **limits), database)
    assert not settings.data_dir.exists() or not list(settings.data_dir.rglob("*.*"))


def test_a_member_larger_than_the_image_limit_is_rejected(settings, database, tmp_path):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("huge.jpg", b"\0" * 50_000)
    report = import_path(archive, replace(settings, max_image_bytes=10_000), database)
    assert report.rejected[0]["kind"] == "too_large"


def test_paths_that_are_neither_folder_nor_zip(settings, database, tmp_path):
    text = tmp_path / "x.txt"
    text.write_text("hello")
    with pytest.raises(MoodlabError, match="neither a folder nor a .zip"):
        import_path(text, settings, database)
    with pytest.raises(MoodlabError, match="does not exist"):
        import_path(tmp_path / "missing", settings, database)


def test_import_command_json(env, tmp_path):
    assert run_cli("migrate").returncode == 0
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(media.jpeg(21))
    (folder / "b.jpg").write_text("nope")
    result = run_cli("import", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["stored"], report["duplicates"]) == (1, 0)
    assert report["rejected"][0]["source"].endswith("b.jpg")
    assert report["rejected"][0]["reason"].startswith("not an image")
    missing = run_cli("import", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_import_json_when_every_file_is_refused(env, tmp_path):
    assert run_cli("migrate").returncode == 0
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "b.jpg").write_text("nope")
    (folder / "c.svg").write_text("<svg/>")
    result = run_cli("import", str(folder), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)  # the promised object all the same
    assert (report["stored"], report["duplicates"]) == (0, 0)
    assert sorted(entry["source"].rsplit("/", 1)[-1] for entry in report["rejected"]) == [
        "b.jpg",
        "c.svg",
    ]
    assert isinstance(report["job_id"], int)
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("moodlab: error: nothing stored: all 2 files")


def test_symbolic_links_in_a_folder_are_listed_not_followed(settings, database, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.jpg").write_bytes(media.jpeg(30))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(media.jpeg(31))
    (folder / "link.jpg").symlink_to(outside / "private.jpg")
    (folder / "more").symlink_to(outside, target_is_directory=True)
    (folder / "dangling.png").symlink_to(tmp_path / "gone.png")
    report = import_path(folder, settings, database)
    assert report.stored == 1
    assert {
        entry["source"].rsplit("/", 1)[-1]: (entry["kind"], entry["reason"])
        for entry in report.rejected
    } == {
        name: ("not_regular", "a symbolic link: not followed")
        for name in ("link.jpg", "more", "dangling.png")
    }


# --- one bad file never stops or hangs a batch (issue 14) ---------------------------------


def import_with_deadline(path, settings, database, seconds: float = 60):
    """import_path in a thread: a hang fails the test instead of blocking the run."""
    result: dict = {}

    def run():
        result["report"] = import_path(path, settings, database)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the import hung"
    return result["report"]


@pytest.mark.timeout(120)
def test_a_fifo_and_a_socket_named_like_images_are_rejected_unopened(settings, database, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(media.jpeg(40))
    os.mkfifo(folder / "x.jpg")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(folder / "s.jpg"))
    try:
        (folder / "z.png").write_bytes(media.png(41))
        report = import_with_deadline(folder, settings, database)
    finally:
        server.close()
    assert report.stored == 2
    rejected = {e["source"].rsplit("/", 1)[-1]: e for e in report.rejected}
    assert rejected["x.jpg"]["kind"] == rejected["s.jpg"]["kind"] == "not_regular"
    assert "FIFO" in rejected["x.jpg"]["reason"] and "socket" in rejected["s.jpg"]["reason"]


def damaged_zip(path, members):
    """A zip of (name, data, compression, damage) members; damage: None, "stream", "deflate64"."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, compression, _ in members:
            zf.writestr(name, data, compress_type=compression)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        infos = {info.filename: info for info in zf.infolist()}
    for name, _, _, damage in members:
        info = infos[name]
        offset = info.header_offset
        name_len, extra_len = struct.unpack("<HH", raw[offset + 26 : offset + 30])
        start = offset + 30 + name_len + extra_len
        if damage == "stream":  # garbage in the middle of the compressed data
            middle = start + info.compress_size // 2
            raw[middle : middle + 64] = bytes(range(64))
        elif damage == "deflate64":  # method 9 in both headers: zipfile cannot unpack it
            raw[offset + 8 : offset + 10] = struct.pack("<H", 9)
            central = bytes(raw).find(b"PK\x01\x02")
            while central != -1:
                cname_len = struct.unpack("<H", raw[central + 28 : central + 30])[0]
                if raw[central + 46 : central + 46 + cname_len] == name.encode():
                    raw[central + 10 : central + 12] = struct.pack("<H", 9)
                    break
                central = bytes(raw).find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(raw))


@pytest.mark.timeout(120)
def test_a_bad_zip_member_is_rejected_and_the_rest_are_read(settings, database, tmp_path):
    archive = tmp_path / "set.zip"
    damaged_zip(
        archive,
        [
            ("a-deflate.png", media.png(50), zipfile.ZIP_DEFLATED, "stream"),
            ("b-deflate64.png", media.png(51), zipfile.ZIP_DEFLATED, "deflate64"),
            ("c-lzma.png", media.png(52), zipfile.ZIP_LZMA, "stream"),
            ("d-bzip2.png", media.png(53), zipfile.ZIP_BZIP2, "stream"),
            ("e-good.png", media.png(54), zipfile.ZIP_DEFLATED, None),
            ("f-good.jpg", media.jpeg(55), zipfile.ZIP_LZMA, None),
        ],
    )
    report = import_with_deadline(archive, settings, database)
    assert report.stored == 2
    by_member = {e["source"].split(":", 1)[1]: e for e in report.rejected}
    assert set(by_member) == {"a-deflate.png", "b-deflate64.png", "c-lzma.png", "d-bzip2.png"}
    assert by_member["b-deflate64.png"]["kind"] == "unsupported"
    assert "compression" in by_member["b-deflate64.png"]["reason"]
    assert {by_member[m]["kind"] for m in ("a-deflate.png", "c-lzma.png", "d-bzip2.png")} <= {
        "corrupt"
    }
    assert "LZMAError" in by_member["c-lzma.png"]["reason"]


def test_unsupported_kinds_and_nested_zips_are_listed_and_folder_zips_unpacked(
    settings, database, tmp_path
):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(media.jpeg(60))
    (folder / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "phone.HEIC").write_bytes(b"\0\0\0\x18ftypheic")
    (folder / "notes.txt").write_text("not a picture: not listed")
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep.jpg", media.jpeg(61))
    with zipfile.ZipFile(folder / "more.zip", "w") as zf:
        zf.writestr("b.jpg", media.jpeg(62))
        zf.writestr("inner.zip", inner.read_bytes())
        zf.writestr("logo.svg", "<svg/>")
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    report = import_path(folder, settings, database)
    assert report.stored == 2  # a.jpg and more.zip:b.jpg
    kinds = {e["source"].rsplit("/", 1)[-1]: (e["kind"], e["reason"]) for e in report.rejected}
    assert kinds["drawing.svg"][0] == kinds["phone.HEIC"][0] == "unsupported"
    assert "SVG" in kinds["drawing.svg"][1] and "HEIC" in kinds["phone.HEIC"][1]
    assert kinds["more.zip:inner.zip"] == ("unsupported", importer.NESTED_ZIP)
    assert kinds["more.zip:logo.svg"][0] == "unsupported"
    assert kinds["broken.zip"][0] == "corrupt"
    assert "notes.txt" not in kinds
