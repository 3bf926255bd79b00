"""Generated files kept for reuse: found again by the same code and inputs, never when
the file no longer matches its record, and never at the cost of the work."""

from __future__ import annotations

import logging

from moodlab.core import moods, storage
from moodlab.core.reuse import KeptFiles


def test_a_kept_file_is_found_again_with_what_was_kept_with_it(tmp_path):
    kept = KeptFiles(tmp_path / "cache", "things", moods)
    key = kept.key("Happy", 3)
    assert kept.get(key, ".bin") is None
    kept.keep(key, ".bin", b"made once", {"tempo": 96.0})
    found = KeptFiles(tmp_path / "cache", "things", moods).get(key, ".bin")
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
