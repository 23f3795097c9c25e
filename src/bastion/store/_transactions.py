"""Read and write transactions, with driver errors mapped to the store's errors at the boundary.

Repositories open every unit of work through :func:`reading` or :func:`writing`; nothing else in
the store touches a connection. Write transactions carry :data:`WRITE_OPTION`, which the SQLite
engine turns into ``BEGIN IMMEDIATE`` (see :mod:`bastion.store.engine`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine

from bastion.store.errors import StoreUnavailableError

__all__ = ["WRITE_OPTION", "is_unavailable", "reading", "unavailable", "writing"]

WRITE_OPTION = "bastion_write"

# SQLSTATE classes meaning "not now": connection exception, insufficient resources (too many
# connections), operator intervention (shutdown, starting up).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads; its transaction is rolled back at the end."""
    try:
        async with engine.connect() as conn:
            yield conn
    except Exception as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a write transaction, committed when the block ends without an error."""
    try:
        async with engine.connect() as conn:
            await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                yield conn
    except Exception as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be used right now (as opposed to a bad query)."""
    if isinstance(exc, StoreUnavailableError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        code = getattr(exc.orig, "sqlstate", None)
        return isinstance(code, str) and code[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
    # Pool exhaustion, and what asyncpg raises before a connection exists (refused, timed out).
    return isinstance(exc, sa_exc.TimeoutError | OSError | TimeoutError)


def unavailable(exc: BaseException) -> StoreUnavailableError:
    """The error to raise for ``exc``; the driver's words go in ``detail`` (for logs, not clients)."""
    if isinstance(exc, StoreUnavailableError):
        return exc
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    error = StoreUnavailableError(
        "The gateway's database is unavailable right now; try again shortly.",
        code="database_unavailable",
    )
    first_line = (str(cause).strip().splitlines() or [""])[0]
    error.detail = f"{type(cause).__name__}: {first_line[:300]}"
    return error
