import io
import zipfile
from pathlib import PurePath

import pytest

from moodlab.core.errors import MoodlabError, PermissionDenied
from moodlab.images.formats import IMAGE_EXTENSIONS, READABLE
from moodlab.images.importer import ImportParams
from moodlab.images.intake import IntakeResult
from moodlab.images.uploads import ACCEPTED, save_uploads, start_upload_import
from tests import media
from tests.conftest import run_job


def test_uploaded_names_never_become_paths(settings):
    folder, names = save_uploads(
        settings, [("../../../etc/evil.jpg", media.jpeg(1)), ("C:\\Users\\x\\b.png", media.png(2))]
    )
    assert folder.parent == settings.data_dir / "uploads"
    assert sorted(p.name for p in folder.iterdir()) == ["000001.jpg", "000002.png"]
    assert names == {"000001.jpg": "evil.jpg", "000002.png": "b.png"}
    assert not list(settings.data_dir.parent.rglob("evil.jpg"))


def test_a_single_zip_is_imported_as_the_zip(settings):
    path, _ = save_uploads(settings, [("set.zip", b"PK\x05\x06" + b"\0" * 18)])
    assert path.name == "000001.zip"


@pytest.mark.parametrize("files", [[], [("script.sh", b"#!/bin/sh")]])
def test_nothing_or_non_images_are_refused(settings, files):
    with pytest.raises(MoodlabError):
        save_uploads(settings, files)


def test_zips_uploaded_with_images_are_unpacked(settings, database, lead):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inside/b.jpg", media.jpeg(71))
        zf.writestr("inside/c.png", media.png(72))
        zf.writestr("inside/logo.svg", b"<svg/>")
    folder, names = save_uploads(
        settings, [("a.jpg", media.jpeg(70)), ("set.zip", archive.getvalue())]
    )
    assert folder.is_dir()
    params = ImportParams(path=str(folder), names=names, label="uploaded files")
    job = run_job(settings, database, lead, params)
    result = IntakeResult.from_json(job.result)
    assert result.stored == 3, result.rejected
    assert result.files == 3
    assert [(e["source"], e["kind"]) for e in result.rejected] == [
        ("set.zip:inside/logo.svg", "unsupported")
    ]


def files_under(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_refused_batch_leaves_none_of_its_files(settings):
    files = [("a.jpg", media.jpeg(80)), ("b.png", media.png(81)), ("run.sh", b"#!/bin/sh")]
    with pytest.raises(MoodlabError, match="'run.sh': not a picture moodlab reads"):
        save_uploads(settings, files)
    assert files_under(settings.data_dir / "uploads") == []  # not a.jpg, not b.png


def test_uploads_whose_import_is_refused_leave_no_file(settings, database, annotator):
    with database.session() as session, pytest.raises(PermissionDenied):
        start_upload_import(
            session=session, actor=annotator, settings=settings, files=[("a.jpg", media.jpeg(82))]
        )
    assert files_under(settings.data_dir / "uploads") == []


def test_uploads_whose_import_starts_are_kept_for_it(settings, database, lead):
    with database.session() as session:
        job = start_upload_import(
            session=session, actor=lead, settings=settings, files=[("a.jpg", media.jpeg(83))]
        )
        folder = job.params["path"]
    assert [p.name for p in files_under(settings.data_dir / "uploads")] == ["000001.jpg"]
    assert str(settings.data_dir / "uploads") in folder


def test_the_upload_takes_exactly_the_suffixes_the_checks_read(settings, database, lead):
    # Every suffix offered is a format the checks read, so a picture of it is stored ...
    pictures = []
    for number, suffix in enumerate(s for s in ACCEPTED if s != ".zip"):
        fmt = next(f for f, readable in READABLE.items() if suffix in readable.extensions)
        pictures.append((f"p{suffix}", media.encode(media.picture(80 + number), fmt)))
    folder, names = save_uploads(settings, pictures)
    job = run_job(settings, database, lead, ImportParams(path=str(folder), names=names))
    assert IntakeResult.from_json(job.result).stored == len(pictures), job.result
    # ... and every name the folder import picks up as a picture is offered.
    assert set(ACCEPTED) == {*IMAGE_EXTENSIONS, ".zip"}
    assert {suffix for fmt in READABLE.values() for suffix in fmt.extensions} <= set(ACCEPTED)


@pytest.mark.parametrize("name", ["logo.svg", "phone.heic", "layers.psd", "set.rar", "x.eps"])
def test_kinds_that_are_always_refused_are_not_offered_and_nothing_is_saved(settings, name):
    assert PurePath(name).suffix not in ACCEPTED
    with pytest.raises(MoodlabError) as refused:
        save_uploads(settings, [("a.jpg", media.jpeg(90)), (name, b"whatever")])
    assert str(refused.value).startswith(f"{name!r}: ")
    assert not (settings.data_dir / "uploads").exists()


class ReadsCounted(io.BytesIO):
    """An upload as Streamlit hands it over (its UploadedFile is a BytesIO), noting the
    largest read and whether the whole buffer was copied out."""

    largest_read = 0
    copied_whole = False

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.largest_read = max(self.largest_read, len(data))
        return data

    def getvalue(self) -> bytes:
        self.copied_whole = True
        return super().getvalue()


def test_an_uploaded_file_is_copied_to_disk_a_mib_at_a_time(settings, tmp_path):
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("noise.bin", bytes(range(256)) * 12_000)  # about 3 MB
    upload = ReadsCounted(zipped.getvalue())
    upload.seek(100)  # a reader left it part-way: the copy starts at the start
    path, _ = save_uploads(settings, [("set.zip", upload), ("a.jpg", media.jpeg(3))])
    assert (path / "000001.zip").read_bytes() == zipped.getvalue()
    assert (path / "000002.jpg").read_bytes() == media.jpeg(3)
    assert 0 < upload.largest_read <= 1 << 20 and not upload.copied_whole
