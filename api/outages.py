"""Which dependency a failure says is down: the database, Temporal, or neither.

The API answers an outage with 503, `Retry-After` and the dependencies that are down
(api.problems); anything else that escapes a route is a server error. The exception's
type tells most cases apart, but not all: asyncpg raises plain socket errors (refused,
reset, unreachable) and timeouts while connecting, and SQLAlchemy passes them on
unwrapped. A bare OSError or TimeoutError is therefore attributed by where it was raised:
the modules of the frames it went through, its own and its causes'.
"""

from __future__ import annotations

import errno
import socket
from types import TracebackType
from typing import Literal

from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

Dependency = Literal["database", "temporal"]
DATABASE: Dependency = "database"
TEMPORAL: Dependency = "temporal"

# Statuses with which Temporal (or the channel to it) says "not now", not "no".
TEMPORAL_DOWN_STATUSES = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
    }
)
_DATABASE_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "agency.db")
_TEMPORAL_MODULES = ("temporalio", "api.temporal_gateway")
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)
# How far along __cause__/__context__ a bare error is traced (a chain is short).
_MAX_CHAIN = 8


class TemporalUnavailableError(Exception):
    """The API has no usable connection to Temporal (raised by api.temporal_gateway)."""


def _database_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    found: list[type[BaseException]] = [OperationalError, InterfaceError, PoolTimeoutError]
    try:
        import asyncpg
    except ImportError:  # a SQLite-only installation
        return tuple(found)
    # Raised unwrapped while connecting: the server refuses connections for now (starting
    # up, shutting down, full) or dropped the one in use.
    found += [
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
        asyncpg.TooManyConnectionsError,
        asyncpg.ConnectionDoesNotExistError,
    ]
    return tuple(found)


def is_database_unavailable(exc: BaseException) -> bool:
    """The failure means "the database cannot be reached now", not "the request is bad"."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, _database_errors()):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # A connection refused while the server shuts down or starts comes wrapped in the
    # driver adapter's generic Error, with asyncpg's error as its cause.
    if isinstance(exc, DBAPIError) and isinstance(
        getattr(exc.orig, "__cause__", None), _database_errors()
    ):
        return True
    return isinstance(exc, OSError | TimeoutError) and _raised_in(exc, _DATABASE_MODULES)


def is_temporal_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, TemporalUnavailableError | RPCTimeoutOrCancelledError):
        return True
    if isinstance(exc, RPCError):
        return exc.status in TEMPORAL_DOWN_STATUSES
    return isinstance(exc, OSError | TimeoutError) and _raised_in(exc, _TEMPORAL_MODULES)


def down_dependency(exc: BaseException) -> Dependency | None:
    """The dependency `exc` says is down; None when it says nothing of the kind."""
    if is_temporal_unavailable(exc):
        return TEMPORAL
    if is_database_unavailable(exc):
        return DATABASE
    return None


def is_outage(exc: BaseException) -> bool:
    """An outage of some dependency: a known one, or a network failure or timeout from
    elsewhere (a peer that did not answer is never a reason to answer 500). Other OS
    errors (a missing file, a full disk) are this server's own failures."""
    return down_dependency(exc) is not None or _is_network_failure(exc)


def _is_network_failure(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


def _raised_in(exc: BaseException, prefixes: tuple[str, ...]) -> bool:
    seen: BaseException | None = exc
    for _ in range(_MAX_CHAIN):
        if seen is None:
            return False
        if any(_module(tb).startswith(prefixes) for tb in _frames(seen.__traceback__)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _frames(tb: TracebackType | None) -> list[TracebackType]:
    out = []
    while tb is not None:
        out.append(tb)
        tb = tb.tb_next
    return out


def _module(tb: TracebackType) -> str:
    name = tb.tb_frame.f_globals.get("__name__", "")
    return name if isinstance(name, str) else ""
