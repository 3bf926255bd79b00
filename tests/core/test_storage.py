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
