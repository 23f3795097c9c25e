"""``bastion migrate``: bring the database schema up to date, then exit."""

from __future__ import annotations

import asyncio

from bastion.settings import Settings
from bastion.store.migrate import migrate

__all__ = ["run_migrate"]


def run_migrate(settings: Settings) -> int:
    default = settings.state_dir() / "bastion.db"
    where = "PostgreSQL" if settings.database_url else f"SQLite at {default}"

    def progress(position: int, total: int, name: str) -> None:
        print(f"applying migration {position}/{total}: {name}", flush=True)

    applied = asyncio.run(migrate(settings.database_url, default_path=default, progress=progress))
    done = f"{applied} migration{'' if applied == 1 else 's'} applied" if applied else "nothing to apply"
    print(f"database schema is up to date ({where}; {done})")
    return 0
