"""Paths from users: a video job reads only uploads, the music library and the folders
the lead configured, and writes only under the data folder, never over another job's
video (docs/security.md, "Paths from users"). Queue-time checks do not decode files,
so these tests need no ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.errors import PermissionDenied
from moodlab.core.models import Job, Video
from moodlab.jobs import queue as jobs
from moodlab.video.actions import start_video
from moodlab.video.request import VideoParams


def a_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    return str(path)


@pytest.fixture
def strict(env, monkeypatch) -> Settings:
    """No folder configured (the default): uploads and the music library only."""
    monkeypatch.setenv("MOODLAB_VIDEO_INPUT_DIRS", "")
    return Settings.from_env()


def queue(database, settings, actor, params) -> Job:
    with database.session() as session:
        return jobs.enqueue(session=session, actor=actor, settings=settings, params=params)


def count_jobs(database) -> int:
    with database.session() as session:
        return len(session.query(Job).all())


@pytest.mark.parametrize("who", ["annotator", "lead"])
def test_a_user_may_not_name_a_file_elsewhere_on_the_server(
    database, strict, lead, annotator, tmp_path, who
):
    actor = {"annotator": annotator, "lead": lead}[who]
    secret = a_file(tmp_path / "elsewhere" / "private.mp4")
    with pytest.raises(PermissionDenied, match="may make videos only from uploads"):
        queue(database, strict, actor, VideoParams(inputs=[secret]))
    assert count_jobs(database) == 0


def test_a_symbolic_link_in_the_uploads_is_judged_by_its_target(
    database, strict, annotator, tmp_path
):
    target = a_file(tmp_path / "elsewhere" / "private.mp4")
    link = strict.data_dir / "uploads" / "x" / "000001.mp4"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    with pytest.raises(PermissionDenied, match="may make videos only from uploads"):
        queue(database, strict, annotator, VideoParams(inputs=[str(link)]))


def test_uploads_the_library_and_configured_folders_are_allowed(
    database, env, monkeypatch, annotator, tmp_path
):
    folder = tmp_path / "lab-videos"
    monkeypatch.setenv("MOODLAB_VIDEO_INPUT_DIRS", str(folder))
    settings = Settings.from_env()
    for path in (
        settings.data_dir / "uploads" / "u" / "000001.mp4",
        settings.music_dir / "uploads" / "clip.mp4",
        folder / "clip.mp4",
    ):
        assert queue(database, settings, annotator, VideoParams(inputs=[a_file(path)])).id
    with pytest.raises(PermissionDenied), database.session() as session:
        other = a_file(tmp_path / "lab-videos-2" / "clip.mp4")  # a prefix is not a parent
        start_video(
            session=session, actor=annotator, settings=settings, params=VideoParams(inputs=[other])
        )


def test_the_command_line_may_name_its_own_files(database, strict, tmp_path):
    own = a_file(tmp_path / "home" / "holiday.mp4")
    params = VideoParams(inputs=[own], out=str(tmp_path / "home" / "with music.mp4"))
    assert queue(database, strict, Actor.command_line(), params).id


def test_a_user_writes_only_under_the_data_folder(database, strict, annotator, tmp_path):
    clip = a_file(strict.data_dir / "uploads" / "u" / "000001.mp4")
    outside = VideoParams(inputs=[clip], out=str(tmp_path / "elsewhere" / "x.mp4"))
    with pytest.raises(PermissionDenied, match="may write videos only under the data folder"):
        queue(database, strict, annotator, outside)
    inside = VideoParams(inputs=[clip], out=str(strict.data_dir / "videos" / "mine.mp4"))
    assert queue(database, strict, annotator, inside).id


def test_nobody_writes_over_another_jobs_video(database, strict, lead, annotator):
    clip = a_file(strict.data_dir / "uploads" / "u" / "000001.mp4")
    leads = strict.data_dir / "videos" / "job1.mp4"
    a_file(leads)
    with database.session() as session:
        session.add(
            Video(
                kind="video",
                path="videos/job1.mp4",
                title="lead's",
                mood="Happy",
                confidence=1.0,
                duration_s=1.0,
                seconds=1.0,
                inputs={},
                report={},
            )
        )
    for actor in (annotator, Actor.command_line()):
        with pytest.raises(PermissionDenied, match="another job's video"):
            queue(database, strict, actor, VideoParams(inputs=[clip], out=str(leads)))
    # An existing file of moodlab's without a row is refused too.
    a_file(strict.data_dir / "exports" / "set.mp4")
    clash = VideoParams(inputs=[clip], out=str(strict.data_dir / "exports" / "set.mp4"))
    with pytest.raises(PermissionDenied, match="a file of moodlab's is there already"):
        queue(database, strict, annotator, clash)
