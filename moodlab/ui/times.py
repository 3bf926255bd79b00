"""Times as the viewer reads them: their browser's time zone, always with the zone's name.

The database keeps naive UTC and Python aware UTC (moodlab.core.timeutil); a page shows
"2026-12-07 08:15 CET" for a viewer in Berlin and "2026-12-07 07:15 UTC" where the
browser does not say its zone (Streamlit reads it from the browser: st.context.timezone).
One format everywhere, so no time on one page reads as UTC and on another as local.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

FORMAT = "%Y-%m-%d %H:%M %Z"
FORMAT_SECONDS = "%Y-%m-%d %H:%M:%S %Z"


def viewer_zone() -> tzinfo:
    """The viewer's time zone from their browser, or UTC when it is unknown or unheard of."""
    try:
        name = st.context.timezone
    except Exception:  # no script run (a test calling a helper directly): UTC
        name = None
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # a name this machine's tz database lacks
        return UTC


def local(at: datetime, *, seconds: bool = False, zone: tzinfo | None = None) -> str:
    """``at`` (naive UTC from the database, or aware) in the viewer's zone, with its name."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    shown = aware.astimezone(zone or viewer_zone())
    return shown.strftime(FORMAT_SECONDS if seconds else FORMAT)
