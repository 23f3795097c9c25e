"""Keyed targets: Bastion with a virtual key, a budget, rate limits and spend logging all on.

Two stores: the default SQLite file next to a config in a temporary directory, and PostgreSQL (a
schema of its own, dropped afterwards) with the limits shared through Redis. Each gateway mints a
virtual key whose limits are generous enough that nothing is refused, so every request still goes
through admission, reservation, settlement and the spend log; once the gateway has stopped (a
graceful stop writes every pending record), its spend log must hold one row per request sent with
that key. Each store also runs without the spend journal (``spend_journal: false``), to measure what
the journal costs. The SQLite store runs once more with the key on a plan (``metadata.plan``: a
plan with an rpm limit and a token quota, neither reachable), to measure what looking up a plan,
its limits and its quota reservation add on the hot path (issue 17).
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs; Bastion reaches it through SQLAlchemy
import redis

from bench.report import NO_JOURNAL
from bench.targets import Target, file_stem, first_request, gateway_config, post_json, start_gateway, stop

__all__ = [
    "KEY_LIMITS",
    "NO_JOURNAL",
    "PG_URL",
    "PLAN",
    "REDIS_URL",
    "KeyedStore",
    "discard",
    "pg_redis_store",
    "spend_rows",
    "sqlite_store",
    "start_keyed",
    "stop_keyed",
]

PG_URL = "postgresql://postgres:root@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
#: The body of ``POST /key/generate``: every limit on, none reachable in a benchmark run.
KEY_LIMITS = {
    "key_alias": "bench",
    "max_budget": 1000,
    "rpm_limit": 1_000_000,
    "tpm_limit": 1_000_000_000,
    "max_parallel_requests": 10_000,
    "duration": "1h",
}
#: The plan a plan target's key is on: an rpm limit and a token quota (reserved before each call
#: and settled after it), none reachable in a benchmark run.
PLAN = "bench-plan"
_PLAN_SETTINGS = (
    "  plans:\n"
    f"    {PLAN}:\n"
    "      rpm_limit: 1000000\n"
    "      max_tokens_per_period: 1000000000000\n"
    "      quota_duration: 1mo\n"
)
# A price, so that reservations and settlements move real amounts (the mock's model has none).
_PRICING = "    model_info:\n      input_cost_per_token: 0.000001\n      output_cost_per_token: 0.000002\n"
_PROBE_TIMEOUT = 3.0
# Draining the spend writer's backlog to the store can take longer than an idle gateway's stop.
_STOP_GRACE = 60.0


@dataclass
class KeyedStore:
    """Where one keyed target keeps its keys and spend log."""

    name: str
    directory: Path
    database_url: str | None = None
    redis_url: str | None = None
    schema: str | None = None
    #: The virtual key's hash, as ``spend_logs.api_key`` holds it (set once the key is minted).
    token: str | None = None
    #: ``bastion_settings.spend_journal``: off only to measure what the journal costs.
    journal: bool = True
    #: The key is on :data:`PLAN` (``metadata.plan``), to measure what a plan costs.
    plan: bool = False

    def settings(self) -> str:
        """The config lines that select this store (none for the default SQLite file)."""
        lines = ""
        if self.database_url:
            lines += f'  database_url: "{self.database_url}"\n'
        extra = ""
        if self.redis_url:
            extra += f'  redis_url: "{self.redis_url}"\n'
        if not self.journal:
            extra += "  spend_journal: false\n"
        if self.plan:
            extra += _PLAN_SETTINGS
        return lines + (f"bastion_settings:\n{extra}" if extra else "")


def sqlite_store(*, journal: bool = True, plan: bool = False) -> KeyedStore:
    """The default store: ``bastion.db`` next to the config, in a fresh temporary directory."""
    name = (
        ("bastion+keys+plan" if plan else "bastion+keys") + " (sqlite" + ("" if journal else NO_JOURNAL) + ")"
    )
    directory = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    return KeyedStore(name, directory, journal=journal, plan=plan)


def pg_redis_store(*, journal: bool = True) -> KeyedStore | str:
    """PostgreSQL (a fresh schema) plus Redis, or why they cannot be used."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=_PROBE_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return f"Redis at {REDIS_URL} is unreachable ({exc})"
    try:
        asyncio.run(_pg_execute("SELECT 1"))
    except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
        return f"PostgreSQL at {PG_URL} is unreachable ({exc})"
    schema = f"bench_{secrets.token_hex(6)}"
    return KeyedStore(
        "bastion+keys (pg+redis" + ("" if journal else NO_JOURNAL) + ")",
        Path(tempfile.mkdtemp(prefix="bastion-bench-")),
        database_url=f"{PG_URL}?schema={schema}",
        redis_url=REDIS_URL,
        schema=schema,
        journal=journal,
    )


def start_keyed(store: KeyedStore, mock_url: str, workdir: Path) -> Target:
    """Start Bastion on ``store``, mint the virtual key, and point the target's Bearer at it."""
    config = store.directory / "bastion.yaml"
    text = gateway_config(mock_url, model_info=_PRICING, settings=store.settings())
    config.write_text(text)
    (workdir / f"{file_stem(store.name)}.yaml").write_text(text)  # a copy to read after the run
    target = start_gateway(store.name, mock_url, workdir, config=config)
    if target.error:
        return target
    try:
        body = {**KEY_LIMITS, "metadata": {"plan": PLAN}} if store.plan else KEY_LIMITS
        answer = post_json(target, f"{target.base_url}/key/generate", body, "POST /key/generate")
        store.token = str(answer["token"])
        target.headers = {**target.headers, "Authorization": f"Bearer {answer['key']}"}
        # Fail here, not in every step, if the key is refused.
        first_request(target)
        target.setup_requests += 1
    except (RuntimeError, KeyError) as exc:
        target.error = f"{target.name}: {exc}"
        stop(target)
    return target


def spend_rows(store: KeyedStore) -> int:
    """The spend-log rows of the store's virtual key (read once its gateway has stopped)."""
    if store.schema is None:
        with sqlite3.connect(store.directory / "bastion.db") as conn:
            row = conn.execute("SELECT count(*) FROM spend_logs WHERE api_key = ?", (store.token,)).fetchone()
        return int(row[0])
    # The schema's name is ours (bench_<hex>), safe to splice in.
    query = f'SELECT count(*) FROM "{store.schema}".spend_logs WHERE api_key = $1'
    return asyncio.run(_pg_count(query, store.token))


def discard(store: KeyedStore) -> None:
    """Remove the temporary directory and drop the PostgreSQL schema (the gateway must be stopped)."""
    shutil.rmtree(store.directory, ignore_errors=True)
    if store.schema is not None:
        asyncio.run(_pg_execute(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE'))


async def _pg_execute(statement: str) -> None:
    conn = await asyncpg.connect(PG_URL, timeout=_PROBE_TIMEOUT)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _pg_count(query: str, *args: object) -> int:
    conn = await asyncpg.connect(PG_URL, timeout=_PROBE_TIMEOUT)
    try:
        return int(await conn.fetchval(query, *args))
    finally:
        await conn.close()


def stop_keyed(target: Target) -> None:
    """Stop a keyed gateway, leaving it the time to write its spend backlog."""
    stop(target, grace=_STOP_GRACE)
