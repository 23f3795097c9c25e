"""``bastion migrate``: bring the database schema up to date, then exit."""

from __future__ import annotations

import asyncio

from bastion.settings import Settings
from bastion.store.migrate import migrate

__all__ = ["run_migrate"]


def run_migrate(settings: Settings) -> int:
    default = settings.state_dir() / "bastion.db"
    asyncio.run(migrate(settings.database_url, default_path=default))
    where = "PostgreSQL" if settings.database_url else f"SQLite at {default}"
    print(f"database schema is up to date ({where})")
    return 0
