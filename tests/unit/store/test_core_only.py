"""SQLAlchemy's asyncio engine without its ORM (bastion.store._core_only), in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
import asyncio, sys
import bastion.store
from sqlalchemy import text
from sqlalchemy.ext.asyncio.engine import create_async_engine

async def main():
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    async with engine.connect() as conn:
        print((await conn.execute(text("SELECT 41 + 1"))).scalar())
    await engine.dispose()

asyncio.run(main())
print("orm after the store and a query:", "sqlalchemy.orm" in sys.modules)
# A library that wants the whole package still gets all of it, and the same classes.
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
import sqlalchemy.ext.asyncio.engine as engine_module
assert AsyncEngine is engine_module.AsyncEngine and async_sessionmaker is not None
print("orm once asked for:", "sqlalchemy.orm" in sys.modules, AsyncSession.__name__)
"""


def test_the_store_runs_without_the_orm_and_the_full_package_still_loads_on_demand() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "42",
        "orm after the store and a query: False",
        "orm once asked for: True AsyncSession",
    ]


def test_when_sqlalchemy_asyncio_was_imported_first_nothing_changes() -> None:
    script = (
        "import sqlalchemy.ext.asyncio as real, sys\n"
        "import bastion.store\n"
        "assert sys.modules['sqlalchemy.ext.asyncio'] is real\n"
        "print(hasattr(real, 'AsyncSession'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr
