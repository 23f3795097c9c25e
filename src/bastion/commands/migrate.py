"""``bastion migrate``: bring the database schema up to date, then exit."""

from __future__ import annotations

from bastion.administration.offline import migrate_database
from bastion.settings import Settings

__all__ = ["run_migrate"]


def run_migrate(settings: Settings) -> int:
    default = settings.state_dir() / "bastion.db"
    where = "PostgreSQL" if settings.database_url else f"SQLite at {default}"

    def progress(position: int, total: int, name: str) -> None:
        print(f"applying migration {position}/{total}: {name}", flush=True)

    applied = migrate_database(settings, progress)
    done = f"{applied} migration{'' if applied == 1 else 's'} applied" if applied else "nothing to apply"
    print(f"database schema is up to date ({where}; {done})")
    return 0
