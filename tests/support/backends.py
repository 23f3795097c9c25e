"""The shared PostgreSQL and Redis of the development and CI machines, and how tests reach them."""

from __future__ import annotations

import os
import socket

import pytest

__all__ = ["PG", "REDIS", "drop_schema", "require"]

PG = "postgresql://postgres:root@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require(port: int, what: str) -> None:
    """Skip on a laptop without the service; fail in CI, where it must be there."""
    if not _reachable(port):
        message = f"{what} is not reachable at 127.0.0.1:{port}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI needs it)")
        pytest.skip(message + "; CI would fail here")


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
