"""Folder and zip imports with the same checks as the crawler."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace

import pytest

from moodlab.core.errors import MoodlabError
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
