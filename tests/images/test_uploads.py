import pytest

from moodlab.core.errors import MoodlabError
from moodlab.images.uploads import save_uploads
from tests import media


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
