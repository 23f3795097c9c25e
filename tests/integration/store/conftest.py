"""One store suite, two backends: each test runs on a SQLite file and on the local PostgreSQL.

PostgreSQL tests get a schema of their own (``?schema=``, created by the migration and dropped
afterwards), so runs never see each other's rows. When PostgreSQL is not reachable they skip, or
fail when ``CI`` is set: in CI both backends must run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_backends import POSTGRES_DSN, Backend

from support.backends import drop_schema, require


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    default_path = tmp_path / "bastion.db"
    if request.param == "sqlite":
        yield Backend("sqlite", None, default_path)
        return
    require(5432, "PostgreSQL")
    schema = f"bastion_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        yield Backend("postgresql", f"{POSTGRES_DSN}?schema={schema}", default_path)
    finally:
        asyncio.run(drop_schema(schema))
