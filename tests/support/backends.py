"""The shared PostgreSQL and Redis of the development and CI machines, and how tests reach them."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

__all__ = ["PG", "REDIS", "drop_schema", "gateway_on", "require"]

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


@contextmanager
def gateway_on(backend: str, config: dict[str, Any], start: Callable[[dict[str, Any]], Any]) -> Iterator[Any]:
    """A gateway started by ``start`` from ``config`` on ``backend``: ``embedded`` (SQLite file,
    in-process limits) or ``scaled`` (a PostgreSQL schema of its own, Redis limits), dropped after."""
    schema = None
    if backend == "scaled":
        require(5432, "PostgreSQL")
        require(6379, "Redis")
        schema = "bt_" + secrets.token_hex(6)
        config = {
            **config,
            "general_settings": {
                **config.get("general_settings", {}),
                "database_url": f"{PG}?schema={schema}",
            },
            "bastion_settings": {**config.get("bastion_settings", {}), "redis_url": REDIS},
        }
    gw = start(config)
    try:
        yield gw
    finally:
        gw.stop()
        if schema is not None:
            asyncio.run(drop_schema(schema))
