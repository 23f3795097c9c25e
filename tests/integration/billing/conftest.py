"""Billing tests: each runs on a SQLite file and on a schema of the local PostgreSQL, against the
fake Autumn, Stripe and webhook receivers of :mod:`support.fake_billing`."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.backends import PG, drop_schema, require
from support.fake_billing import FakeBilling


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite at tmp_path/bastion.db) or a PostgreSQL URL with a schema of its own."""
    if request.param == "sqlite":
        yield None
        return
    require(5432, "PostgreSQL")
    schema = f"bastion_billing_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        yield f"{PG}?schema={schema}"
    finally:
        asyncio.run(drop_schema(schema))


@pytest.fixture
def fake() -> Iterator[FakeBilling]:
    with FakeBilling() as server:
        yield server
