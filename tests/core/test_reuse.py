"""Generated files kept for reuse: found again by the same code and inputs, never when
the file no longer matches its record, and never at the cost of the work."""

from __future__ import annotations

import json
import logging
import os
import threading

import pytest

from moodlab.core import moods, storage
from moodlab.core.reuse import KeptFiles


def test_a_kept_file_is_found_again_with_what_was_kept_with_it(tmp_path):
    kept = KeptFiles(tmp_path / "cache", "things", moods, record={"tempo": float})
    key = kept.key("Happy", 3)
    assert kept.get(key, ".bin") is None
    kept.keep(key, ".bin", b"made once", {"tempo": 96.0})
    found = KeptFiles(tmp_path / "cache", "things", moods, record={"tempo": float}).get(key, ".bin")
    assert found is not None
    assert found[0] == b"made once"
    assert found[1] == {"tempo": 96.0}
    target = tmp_path / "out" / "copy.bin"
    assert kept.copy_to(key, ".bin", target) == {"tempo": 96.0}
    assert target.read_bytes() == b"made once"


def test_keys_follow_the_inputs_and_the_code_that_made_the_file(tmp_path):
    by_moods = KeptFiles(tmp_path, "things", moods)
    assert by_moods.key("Happy", 3) == KeptFiles(tmp_path, "things", moods).key("Happy", 3)
    assert by_moods.key("Happy", 3) != by_moods.key("Happy", 4)
    assert by_moods.key("Happy", 3) != KeptFiles(tmp_path, "things", storage).key("Happy", 3)


def test_a_file_that_no_longer_matches_its_record_is_not_used(tmp_path, caplog):
    kept = KeptFiles(tmp_path, "things", moods)
    kept.keep("a" * 40, ".bin", b"twelve bytes")
    kept.keep("b" * 40, ".bin", b"twelve bytes")
    (tmp_path / "things" / "aa" / f"{'a' * 40}.bin").write_bytes(b"twelve")  # cut short
    (tmp_path / "things" / "bb" / f"{'b' * 40}.bin").write_bytes(b"TWELVE BYTES")  # changed
    with caplog.at_level(logging.WARNING, "moodlab.reuse"):
        assert kept.get("a" * 40, ".bin") is None
        assert kept.get("b" * 40, ".bin") is None
    assert caplog.text.count("does not match its record") == 2


def test_a_cache_that_cannot_be_written_costs_only_the_reuse(tmp_path, caplog):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder would be")
    kept = KeptFiles(blocked, "things", moods)
    with caplog.at_level(logging.WARNING, "moodlab.reuse"):
        kept.keep(kept.key("x"), ".bin", b"data")  # does not raise
    assert "could not keep" in caplog.text
    assert kept.get(kept.key("x"), ".bin") is None


RECORD = {"key": str, "tempo": float}


def kept_one(tmp_path) -> tuple[KeptFiles, str]:
    kept = KeptFiles(tmp_path / "cache", "things", moods, record=RECORD)
    key = kept.key("Happy")
    kept.keep(key, ".bin", b"made once", {"key": "A minor", "tempo": 96})
    return kept, key


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("{not json", "its record is not JSON"),
        ("[1, 2]", "its record is not a JSON object"),
        ('{"size": "9", "sha256": "x", "extra": {}}', "its record's size '9' is not a size"),
        ('{"size": 9, "sha256": "x", "extra": {}}', "its record's sha256 'x' is not a sha256"),
        ({"extra": []}, "its record's extra fields are not a JSON object"),
        ({"extra": {"key": "A minor"}}, "its record's fields are wrong (tempo missing)"),
        (
            {"extra": {"key": "A", "tempo": 1, "x": 1}},
            "its record's fields are wrong ('x' unknown)",
        ),
        ({"extra": {"key": "A", "tempo": "fast"}}, "its record's tempo 'fast' is not a float"),
        ({"extra": {"key": "A", "tempo": True}}, "its record's tempo True is not a float"),
        ({"extra": {"key": "A", "tempo": float("nan")}}, "its record's tempo nan is not a"),
        ({"extra": {"key": 7, "tempo": 96}}, "its record's key 7 is not a str"),
        ({"size": 10**12}, "its record's size 1000000000000 is not a size"),
    ],
)
def test_a_record_that_does_not_parse_is_discarded_and_made_again(tmp_path, caplog, record, reason):
    kept, key = kept_one(tmp_path)
    file, sidecar = kept.paths(key, ".bin")
    if isinstance(record, dict):
        record = json.dumps(json.loads(sidecar.read_text()) | record)
    sidecar.write_text(record)
    with caplog.at_level(logging.WARNING, "moodlab.reuse"):
        assert kept.get(key, ".bin") is None
    assert f"kept file {file}: {reason}" in caplog.text
    assert not file.exists() and not sidecar.exists()  # discarded: keep() makes them anew
    kept.keep(key, ".bin", b"made again", {"key": "A minor", "tempo": 96.0})
    assert kept.get(key, ".bin") == (b"made again", {"key": "A minor", "tempo": 96.0})


def test_a_whole_number_is_given_back_as_the_float_the_record_declares(tmp_path):
    kept, key = kept_one(tmp_path)
    found = kept.get(key, ".bin")
    assert found is not None and found[1] == {"key": "A minor", "tempo": 96.0}
    assert isinstance(found[1]["tempo"], float)


def test_a_kept_file_that_is_a_link_is_refused_and_what_it_points_to_left_alone(tmp_path, caplog):
    kept, key = kept_one(tmp_path)
    file, sidecar = kept.paths(key, ".bin")
    secret = tmp_path / "secret"
    secret.write_bytes(b"made once")  # the same bytes: its record matches it
    file.unlink()
    file.symlink_to(secret)
    with caplog.at_level(logging.WARNING, "moodlab.reuse"):
        assert kept.get(key, ".bin") is None
        assert kept.copy_to(key, ".bin", tmp_path / "copy.bin") is None
    assert "is a symbolic link" in caplog.text
    assert not (tmp_path / "copy.bin").exists()
    assert not file.is_symlink() and secret.read_bytes() == b"made once"
    kept.keep(key, ".bin", b"made again", {"key": "A minor", "tempo": 96.0})
    assert file.read_bytes() == b"made again" and not file.is_symlink()
    assert secret.read_bytes() == b"made once"


def test_a_link_where_a_kept_folder_should_be_is_removed_not_followed(tmp_path, caplog):
    kept, key = kept_one(tmp_path)
    file, _ = kept.paths(key, ".bin")
    elsewhere = tmp_path / "elsewhere"
    file.parent.rename(elsewhere)
    file.parent.symlink_to(elsewhere, target_is_directory=True)
    with caplog.at_level(logging.WARNING, "moodlab.reuse"):
        assert kept.get(key, ".bin") is None
    assert "is a symbolic link" in caplog.text and not file.parent.is_symlink()
    kept.keep(key, ".bin", b"made again", {"key": "A minor", "tempo": 96.0})
    assert file.read_bytes() == b"made again"
    assert (elsewhere / file.name).read_bytes() == b"made once"  # never written through


def test_a_fifo_in_place_of_a_kept_file_is_refused_without_waiting(tmp_path, caplog):
    kept, key = kept_one(tmp_path)
    file, _ = kept.paths(key, ".bin")
    file.unlink()
    os.mkfifo(file)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(kept.get(key, ".bin")), daemon=True)
    with caplog.at_level(logging.WARNING, "moodlab.reuse"):
        reader.start()
        reader.join(5)
    assert outcome == [None]
    assert "is not a regular file" in caplog.text


def test_a_kept_file_its_maker_finds_wrong_is_discarded_and_never_written(tmp_path, caplog):
    kept, key = kept_one(tmp_path)
    target = tmp_path / "library" / "track.bin"

    def check(path, made):
        assert path != target and path.read_bytes() == b"made once"
        raise ValueError("it is not the track it should be")

    with caplog.at_level(logging.WARNING, "moodlab.reuse"):
        assert kept.copy_to(key, ".bin", target, check=check) is None
    assert "it is not what it should be: it is not the track it should be" in caplog.text
    assert not target.exists() and list(target.parent.iterdir()) == []  # no temp left
    assert kept.get(key, ".bin") is None  # discarded
