"""The database server's clock: the one time every machine of a lab agrees on.

Heartbeats, stall detection, retry backoff and retention compare times written by
different machines; each such time is written and compared in SQL with ``db_now()``,
never a worker's own clock, so a worker whose clock runs minutes off neither takes
over a live job nor leaves a dead one stuck (docs/postgresql.md, "Clocks").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from moodlab.core.models.base import UTCDateTime


class db_now(FunctionElement[datetime]):  # noqa: N801 (an SQL function, named as one)
    """The database server's current time, naive UTC as moodlab stores times."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(db_now, "postgresql")
def _postgresql_now(element: db_now, compiler: Any, **kw: Any) -> str:
    # clock_timestamp(), not now(): now() is the transaction's start, which a long
    # transaction would hold still.
    return "timezone('utc', clock_timestamp())"


@compiles(db_now, "sqlite")
def _sqlite_now(element: db_now, compiler: Any, **kw: Any) -> str:
    # The text form SQLAlchemy stores a DateTime in, so comparisons of text work.
    return "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


@compiles(db_now)
def _default_now(element: db_now, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


def database_time(session: Session) -> datetime:
    """The database server's time now (aware UTC)."""
    now = session.scalar(select(db_now()))
    assert now is not None
    return now
