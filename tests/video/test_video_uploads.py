"""A video's browser uploads: names stay labels, and only videos and photos within the
size limit are saved."""

from dataclasses import replace

import pytest

from moodlab.core.errors import MoodlabError
from moodlab.video.uploads import save_video_uploads
from tests import media


def test_uploaded_names_never_become_paths(settings):
    paths, names = save_video_uploads(
        settings, [("../../clip.mp4", b"\x00" * 16), ("C:\\Photos\\sun.jpg", media.jpeg(1))]
    )
    folder = settings.data_dir / "uploads"
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["000001.mp4", "000002.jpg"]
    assert all(p.startswith(str(folder) + "/") for p in paths)
    assert list(names.values()) == ["clip.mp4", "sun.jpg"]


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ([], "no files were uploaded"),
        ([("notes.txt", b"hello")], "only videos and photos"),
        ([("big.mp4", b"\x00" * 101)], "big.mp4: .* is over the .* limit"),
    ],
)
def test_nothing_other_files_or_too_big_ones_are_refused(settings, files, error):
    with pytest.raises(MoodlabError, match=error):
        save_video_uploads(replace(settings, video_max_bytes=100), files)
