"""One time format on every page: the viewer's zone, with its name."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from moodlab.ui.times import local, viewer_zone


def test_database_times_are_shown_in_the_viewers_zone_with_its_name():
    stored = datetime(2026, 12, 7, 7, 15)  # naive UTC, as the database keeps it
    berlin = ZoneInfo("Europe/Berlin")
    assert local(stored, zone=berlin) == "2026-12-07 08:15 CET"
    assert local(datetime(2026, 7, 1, 7, 15, tzinfo=UTC), zone=berlin) == "2026-07-01 09:15 CEST"
    assert local(stored, zone=ZoneInfo("Asia/Tokyo"), seconds=True) == "2026-12-07 16:15:00 JST"
    assert local(stored, zone=UTC) == "2026-12-07 07:15 UTC"


def test_without_a_browser_zone_times_are_utc_and_say_so():
    assert viewer_zone() is UTC  # no script run, so no browser to ask
    assert local(datetime(2026, 12, 7, 7, 15)) == "2026-12-07 07:15 UTC"


def test_no_page_formats_a_time_of_its_own():
    # Every time shown goes through moodlab.ui.times.local (the viewer's zone, named).
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    scripts = [*root.glob("pages/*.py"), *root.glob("moodlab/ui/*.py"), root / "app.py"]
    own = [
        str(path.relative_to(root))
        for path in scripts
        if path.name != "times.py"
        and ("%H:%M" in path.read_text() or "isoformat(" in path.read_text())
    ]
    assert own == []
