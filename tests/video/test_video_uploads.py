"""A video's browser uploads: names stay labels, and only videos and photos within the
size limit are saved."""

from dataclasses import replace
from pathlib import Path

import pytest

from moodlab.core.errors import MoodlabError
from moodlab.video.request import VideoParams
from moodlab.video.uploads import save_video_uploads, start_upload_video
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


def files_under(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_refused_batch_leaves_none_of_its_files(settings):
    files = [("sun.jpg", media.jpeg(1)), ("clip.mp4", b"\x00" * 16), ("big.mp4", b"\x00" * 50_001)]
    with pytest.raises(MoodlabError, match="big.mp4: .* is over the .* limit"):
        save_video_uploads(replace(settings, video_max_bytes=50_000), files)
    assert files_under(settings.data_dir / "uploads") == []  # not sun.jpg, not clip.mp4


def test_uploads_whose_video_is_refused_leave_no_file(settings, database, annotator):
    with database.session() as session, pytest.raises(MoodlabError, match="no trained model"):
        start_upload_video(
            session=session,
            actor=annotator,
            settings=settings,
            files=[("sun.jpg", media.jpeg(2)), ("moon.jpg", media.jpeg(3))],
            params=VideoParams(),
        )
    assert files_under(settings.data_dir / "uploads") == []


def test_uploads_whose_video_starts_are_its_inputs(settings, database, annotator):
    from tests.video_media import register_tiny_model

    register_tiny_model(database, settings)
    with database.session() as session:
        job = start_upload_video(
            session=session,
            actor=annotator,
            settings=settings,
            files=[("sun.jpg", media.jpeg(4)), ("moon.jpg", media.jpeg(5))],
            params=VideoParams(seed=3),
        )
        params = job.params
    saved = sorted(str(p) for p in files_under(settings.data_dir / "uploads"))
    assert params["inputs"] == saved and params["seed"] == 3
    assert sorted(params["names"].values()) == ["moon.jpg", "sun.jpg"]


def test_an_uploaded_video_file_is_copied_not_held_twice(settings, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(bytes(range(256)) * 10_000)
    with open(clip, "rb") as upload:
        [path], _ = save_video_uploads(settings, [("clip.mp4", upload)])
    assert Path(path).read_bytes() == clip.read_bytes()
    with open(clip, "rb") as upload, pytest.raises(MoodlabError, match="over the"):
        save_video_uploads(replace(settings, video_max_bytes=1000), [("clip.mp4", upload)])
