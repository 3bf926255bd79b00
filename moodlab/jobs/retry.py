"""Which errors are worth another try, and how long to wait before it.

A kind's params type declares how often its job may be tried (``TRIES``) and which
passing errors earn a retry (``RETRY_ON``, a set of the reasons below); a retried job
waits ``RETRY_DELAY_S`` doubled at each try, on the database's clock, and its card
says "try 2 of 3" (docs/postgresql.md, "Retries").
"""

from __future__ import annotations

import errno
import socket

from sqlalchemy.exc import DBAPIError, OperationalError

DATABASE = "database"  # the connection to the database was lost, or it was locked
DISK = "disk"  # the disk was full (and may have been freed)
NETWORK = "network"  # a host timed out or refused the connection


def passing_reason(exc: BaseException) -> str | None:
    """Which kind of passing error ``exc`` is, or None for one a retry would not cure."""
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return DATABASE
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK
    if isinstance(exc, TimeoutError | socket.timeout | ConnectionError):
        return NETWORK
    try:
        import requests
    except ImportError:  # pragma: no cover - requests is a requirement
        return None
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return NETWORK
    return None


def retry_delay(base_s: float, attempt: int) -> float:
    """The wait before the try after try ``attempt`` (1-based): base, 2 x base, 4 x base..."""
    return float(base_s) * 2 ** max(0, attempt - 1)
