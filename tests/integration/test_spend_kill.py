"""A gateway killed with SIGKILL under load loses no answered request's spend row.

Each row is appended to the local journal before the answer's last byte is sent; the next start
adopts the dead process's journal and writes it (once: the insert is idempotent on request_id).
The test kills ``bastion serve`` at random moments of a mixed load (streams and not) three times
over, restarts it each time, and finally compares what the clients saw answered in full with the
spend log: every answered request has its row, and no request has two.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import yaml

from support import MASTER_KEY, deployment
from support.backends import PG, drop_schema, require
from support.serve import ServeProcess

CHAT = "/v1/chat/completions"
AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
ROUNDS = 3
WORKERS = 8


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the default SQLite file next to the config, else a PostgreSQL URL (a fresh schema)."""
    if request.param == "sqlite":
        yield None
        return
    require(5432, "PostgreSQL")
    schema = "bt_kill_" + secrets.token_hex(5)
    yield f"{PG}?schema={schema}"
    asyncio.run(drop_schema(schema))


def _body(stream: bool) -> dict[str, Any]:
    return {"model": "mock", "messages": [{"role": "user", "content": "hi"}], "stream": stream}


def _complete(stream: bool, payload: bytes) -> bool:
    if stream:
        return payload.rstrip().endswith(b"data: [DONE]")
    try:
        return bool(orjson.loads(payload)["choices"][0]["message"]["content"])
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return False


async def _load_until_killed(server: ServeProcess, kill_at: float, answered: set[str]) -> int:
    """Mixed load against ``server``; SIGKILL it ``kill_at`` seconds in. Returns the answers seen."""
    seen = 0

    async def worker(session: aiohttp.ClientSession, n: int) -> None:
        nonlocal seen
        while True:
            stream = n % 2 == 0
            n += 1
            try:
                async with session.post(server.url + CHAT, json=_body(stream), headers=AUTH) as resp:
                    payload = await resp.read()
                    rid = resp.headers.get("x-request-id")
            except (TimeoutError, aiohttp.ClientError, OSError):
                return  # the server is gone
            if resp.status == 200 and rid is not None and _complete(stream, payload):
                answered.add(rid)
                seen += 1

    loop = asyncio.get_running_loop()
    loop.call_later(kill_at, server.kill)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=WORKERS), timeout=timeout
    ) as session:
        await asyncio.gather(*(worker(session, n) for n in range(WORKERS)))
    return seen


def _recorded(tmp_path: Path, database: str | None) -> list[str]:
    if database is None:
        with sqlite3.connect(tmp_path / "bastion.db") as conn:
            return [row[0] for row in conn.execute("SELECT request_id FROM spend_logs")]
    schema = database.rsplit("schema=", 1)[1]

    async def fetch() -> list[str]:
        conn = await asyncpg.connect(PG)
        try:
            return [r[0] for r in await conn.fetch(f'SELECT request_id FROM "{schema}".spend_logs')]
        finally:
            await conn.close()

    return asyncio.run(fetch())


@pytest.mark.timeout(180)
def test_sigkill_at_random_moments_loses_no_answered_request(tmp_path: Path, database: str | None) -> None:
    """Three SIGKILLs at random moments of the load, a restart after each: answered <= recorded,
    and no request recorded twice."""
    seed = int(os.environ.get("BASTION_KILL_SEED", secrets.randbits(32)))
    rng = random.Random(seed)
    general: dict[str, Any] = {"master_key": MASTER_KEY}
    if database is not None:
        general["database_url"] = database
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_list": [deployment("mock", "mock/echo", None, mock_stream_delay=0.002)],
                "general_settings": general,
                "bastion_settings": {"log_requests": False},
            }
        )
    )
    answered: set[str] = set()
    for _ in range(ROUNDS):
        server = ServeProcess(config)
        server.start()  # adopts and writes the journal the previous (killed) process left
        try:
            seen = asyncio.run(_load_until_killed(server, rng.uniform(0.3, 1.5), answered))
        finally:
            server.kill()
        assert seen > 0, f"no answer before the kill (seed {seed}):\n{server.log()}"
    last = ServeProcess(config)
    last.start()
    last.terminate()  # a graceful stop writes the adopted journal before it exits
    assert last.wait() == 0, last.log()

    recorded = _recorded(tmp_path, database)
    assert len(recorded) == len(set(recorded)), f"a request was recorded twice (seed {seed})"
    missing = answered - set(recorded)
    assert not missing, f"{len(missing)} of {len(answered)} answered requests have no row (seed {seed})"
    assert not list(tmp_path.glob("spend-journal/*/*.jsonl")), "the journal was not emptied"
