import hashlib

import pytest

from moodlab.core.storage import ContentStore, StorageError, atomic_write


def test_content_is_stored_once_under_its_sharded_sha256(tmp_path):
    store = ContentStore(tmp_path)
    data = b"an image, pretend"
    sha = store.put_bytes(data, ".jpg")
    assert sha == hashlib.sha256(data).hexdigest()
    path = store.path_for(sha, ".jpg")
    assert path == tmp_path / "objects" / sha[:2] / sha[2:4] / f"{sha}.jpg"
    assert path.read_bytes() == data
    assert store.put_bytes(data, ".jpg") == sha
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_failed_write_leaves_no_file_and_no_temp(tmp_path):
    target = tmp_path / "model.keras"
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write(b"half a model")
        raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_replaced_whole(tmp_path):
    target = tmp_path / "export.zip"
    target.write_bytes(b"old")
    with atomic_write(target) as handle:
        handle.write(b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["export.zip"]


@pytest.mark.parametrize(
    ("sha", "suffix"), [("../../etc/passwd", ""), ("a" * 64, "/../x"), ("A" * 64, "")]
)
def test_names_that_could_escape_the_store_are_refused(tmp_path, sha, suffix):
    with pytest.raises(StorageError):
        ContentStore(tmp_path).path_for(sha, suffix)


def test_reading_a_missing_object_names_it(tmp_path):
    with pytest.raises(StorageError, match="no stored file"):
        ContentStore(tmp_path).read_bytes("0" * 64)


def test_stale_temp_files_are_those_of_gone_processes_or_old_ones(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from moodlab.core.storage import remove_stale_temp_files, writer_token

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    here = writer_token().rsplit("p", 1)[0]
    dead = tmp_path / f".a.jpg.{here}p{gone}.x1y2.tmp"
    mine = tmp_path / f".b.jpg.{writer_token()}.x1y2.tmp"
    other_host = tmp_path / f".c.jpg.h00000000p{gone}.x1y2.tmp"
    old = tmp_path / "sub" / ".d.keras.tmp.keras"
    real = tmp_path / "e.jpg"
    old.parent.mkdir()
    for path in (dead, mine, other_host, old, real):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    removed = remove_stale_temp_files(tmp_path, older_than_s=60)
    assert sorted(removed) == sorted([dead, old])
    assert mine.exists() and other_host.exists() and real.exists()


def test_a_tool_written_file_is_fsynced_renamed_and_its_folder_fsynced(tmp_path, monkeypatch):
    # What a model save needs (moodlab/training/runs.py): a power cut after the job ends
    # must not lose the file nor its name. fsync leaves no trace on disk, so it is watched.
    import os
    import stat

    from moodlab.core.storage import atomic_path

    synced = []
    real_fsync = os.fsync

    def watched_fsync(fd):
        info = os.fstat(fd)
        synced.append((stat.S_ISDIR(info.st_mode), info.st_ino))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watched_fsync)
    target = tmp_path / "models" / "deep.keras"
    with atomic_path(target) as temporary:
        assert temporary.suffix == ".keras" and temporary.parent == target.parent
        temporary.write_bytes(b"a model")
    assert target.read_bytes() == b"a model"
    assert [p.name for p in target.parent.iterdir()] == ["deep.keras"]
    assert synced == [(False, target.stat().st_ino), (True, target.parent.stat().st_ino)]
