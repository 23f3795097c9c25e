"""``bastion keys create``: mint a virtual key straight into the database (no server needed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson

from bastion.auth.virtual_keys import mint_key
from bastion.limits.durations import expires_at
from bastion.settings import Settings
from bastion.store.database import Database
from bastion.store.records import KeyRecord, TeamRecord

__all__ = ["create_key"]


def create_key(settings: Settings, options: dict[str, Any]) -> int:
    """Create a key as ``POST /key/generate`` would; print it once, with its name and expiry."""
    material = mint_key(options.get("key"))
    now = datetime.now(UTC)
    record = KeyRecord(
        token=material.token,
        key_name=material.key_name,
        key_alias=options.get("alias"),
        team_id=options.get("team_id"),
        user_id=options.get("user_id"),
        models=tuple(options.get("models") or ()),
        max_budget=options.get("max_budget"),
        budget_duration=options.get("budget_duration"),
        expires=expires_at(options.get("duration"), now),
        rpm_limit=options.get("rpm_limit"),
        tpm_limit=options.get("tpm_limit"),
        max_parallel_requests=options.get("max_parallel_requests"),
        created_by="cli",
    )

    async def store() -> KeyRecord:
        database = await Database.open(
            settings.database_url, default_path=settings.state_dir() / "bastion.db"
        )
        try:
            if record.team_id and await database.teams.get(record.team_id) is None:
                await database.teams.create(TeamRecord(team_id=record.team_id, team_alias=record.team_id))
            return await database.keys.create(record)
        finally:
            await database.close()

    created = asyncio.run(store())
    out = {
        "key": material.key,
        "key_name": created.key_name,
        "token": created.token,
        "expires": None if created.expires is None else created.expires.isoformat(),
        "team_id": created.team_id,
        "user_id": created.user_id,
    }
    print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    return 0
