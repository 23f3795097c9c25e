"""PostgreSQL or Redis killed under load: no answered request loses its row, budgets still hold.

Both tests start servers of their own (:mod:`support.private_servers`) and kill one with SIGKILL
while calls are in flight. The database: calls with a key seen before keep being answered, their
rows wait in the journal and are written once, when it is back. Redis: calls are refused with a 503
while it is gone (limits cannot be checked), and once it is back, empty, the budget counter starts
again from the database plus the rows not written yet, so a spent budget stays spent.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from bastion.settings import Settings
from bastion.store.spend import SpendFilter
from bastion.testing.gateway import RunningGateway
from support import MASTER_KEY, deployment
from support.private_servers import PrivatePostgres, PrivateRedis

CHAT = "/v1/chat/completions"
#: The mock priced like a small model; a call of max_tokens 10 costs about $0.022.
PRICED_MOCK = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    with PrivatePostgres() as pg, PrivateRedis(tmp_path) as redis:
        yield pg, redis


def _gateway(
    write_config: Callable[[dict[str, Any]], Settings], servers: tuple[PrivatePostgres, PrivateRedis]
) -> RunningGateway:
    pg, redis = servers
    mock = deployment("mock", "mock/echo", None, mock_stream_delay=0.001)
    mock["model_info"] = dict(PRICED_MOCK)
    settings = write_config(
        {
            "model_list": [mock],
            "general_settings": {"database_url": pg.url, "user_api_key_cache_ttl": 0.05},
            "bastion_settings": {"redis_url": redis.url, "log_requests": False},
        }
    )
    gw = RunningGateway(settings)
    gw.start()
    return gw


def _key(gw: RunningGateway, **fields: Any) -> dict[str, Any]:
    request = urllib.request.Request(
        gw.url + "/key/generate",
        data=orjson.dumps(fields),
        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as resp:
        made: dict[str, Any] = orjson.loads(resp.read())
    return made


class Load:
    """Calls from a few concurrent clients; what each got, by phase."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url + CHAT, key
        self.phase = 0
        self.answered: set[str] = set()
        self.statuses: dict[int, list[int]] = {}
        self.stop = False

    async def run(self, clients: int, until: Callable[[], bool]) -> None:
        """Call until ``until()`` holds (checked after each answer)."""
        self.stop = False

        async def client(session: aiohttp.ClientSession, n: int) -> None:
            while not self.stop:
                stream = n % 2 == 0
                n += 1
                body = {"model": "mock", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
                if stream:
                    body["stream"] = True
                headers = {"authorization": f"Bearer {self.key}"}
                async with session.post(self.url, json=body, headers=headers) as resp:
                    payload = await resp.read()
                    done = payload.rstrip().endswith(b"[DONE]") if stream else b'"choices"' in payload
                    if resp.status == 200 and done:
                        self.answered.add(resp.headers["x-request-id"])
                    self.statuses.setdefault(self.phase, []).append(resp.status)
                if until():
                    self.stop = True

        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(client(session, n) for n in range(clients)))

    def count(self, phase: int, status: int) -> int:
        return self.statuses.get(phase, []).count(status)


def _logged(gw: RunningGateway, token: str) -> list[str]:
    assert gw.app is not None and gw.app.database is not None
    logs = gw.call(gw.app.database.spend.query_spend_logs(SpendFilter(api_key=token), limit=10_000))
    return [log.request_id for log in logs]


def test_postgresql_killed_mid_load_loses_no_answered_row(
    write_config: Callable[[dict[str, Any]], Settings], servers: tuple[PrivatePostgres, PrivateRedis]
) -> None:
    """SIGKILL the database under load: calls keep being answered; once it is back, every
    answered call has exactly one row."""
    pg, _ = servers
    gw = _gateway(write_config, servers)
    try:
        made = _key(gw)
        load = Load(gw.url, made["key"])
        asyncio.run(load.run(6, lambda: load.count(0, 200) >= 30))
        load.phase = 1
        pg.kill()  # batches in flight fail; calls go on from the key cache
        asyncio.run(load.run(6, lambda: load.count(1, 200) >= 60))
        assert load.count(1, 200) >= 60, load.statuses
        pg.start()
        load.phase = 2
        asyncio.run(load.run(6, lambda: load.count(2, 200) >= 30))
        assert gw.app is not None and gw.app.spend_writer is not None
        gw.settle()
        gw.call(gw.app.spend_writer.flush())
        assert not gw.app.spend_writer.backlog
        logged = _logged(gw, made["token"])
    finally:
        gw.stop()
    assert len(logged) == len(set(logged)), "a request was logged twice"
    missing = load.answered - set(logged)
    assert not missing, f"{len(missing)} of {len(load.answered)} answered calls have no row"


def test_redis_killed_mid_load_then_back_empty_still_refuses_a_spent_budget(
    write_config: Callable[[dict[str, Any]], Settings], servers: tuple[PrivatePostgres, PrivateRedis]
) -> None:
    """Spend a budget, SIGKILL Redis at once (the last second's rows are not in the database yet),
    bring it back empty: the counter starts from the database plus the rows not written yet, so the
    calls that follow are refused by the budget; no answered call lost its row."""
    _, redis = servers
    gw = _gateway(write_config, servers)
    budget = 0.5
    try:
        made = _key(gw, max_budget=budget)
        load = Load(gw.url, made["key"])
        asyncio.run(load.run(6, lambda: load.count(0, 400) >= 1))  # a burst meets the budget
        load.phase = 3
        # One at a time until refused with nothing in flight: what is left is less than a call.
        asyncio.run(load.run(1, lambda: load.count(3, 400) >= 1))
        redis.kill()
        load.phase = 1
        asyncio.run(load.run(2, lambda: len(load.statuses.get(1, [])) >= 6))
        assert load.count(1, 200) == 0 and load.count(1, 503) >= 1, load.statuses  # limits unknown
        redis.start()  # empty: every budget counter must start again
        load.phase = 2
        asyncio.run(load.run(3, lambda: len(load.statuses.get(2, [])) >= 12))
        assert load.count(2, 200) == 0 and load.count(2, 400) >= 1, load.statuses
        assert gw.app is not None and gw.app.spend_writer is not None and gw.app.database is not None
        gw.settle()
        gw.call(gw.app.spend_writer.flush())
        logged = _logged(gw, made["token"])
        stored = gw.call(gw.app.database.keys.get(made["token"]))
    finally:
        gw.stop()
    assert stored is not None and 0 < stored.spend <= budget
    assert not load.answered - set(logged)
