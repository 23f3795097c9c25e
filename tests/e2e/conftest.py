"""A gateway with the account API on each backend (embedded SQLite + memory, PostgreSQL + Redis)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support.accounts import accounts_config
from support.backends import PG, REDIS, drop_schema, require


@pytest.fixture
def start_accounts(
    request: pytest.FixtureRequest, start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> Iterator[Callable[..., RunningGateway]]:
    """Start an accounts gateway on ``backend`` ("embedded" or "scaled") with extra account settings."""
    schemas: list[str] = []

    def start(backend: str = "embedded", **accounts: Any) -> RunningGateway:
        config = accounts_config(upstream.url, **accounts)
        if backend == "scaled":
            require(5432, "PostgreSQL")
            require(6379, "Redis")
            schema = "bt_" + secrets.token_hex(6)
            schemas.append(schema)
            config["general_settings"] = {"database_url": f"{PG}?schema={schema}"}
            config["bastion_settings"]["redis_url"] = REDIS
        return start_gateway(config)

    yield start
    for schema in schemas:
        asyncio.run(drop_schema(schema))


@pytest.fixture(params=["embedded", "scaled"])
def account_gateway(
    request: pytest.FixtureRequest, start_accounts: Callable[..., RunningGateway]
) -> RunningGateway:
    return start_accounts(request.param)
