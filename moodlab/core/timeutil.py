"""Time in one convention: aware UTC datetimes in Python, naive UTC in the database."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
