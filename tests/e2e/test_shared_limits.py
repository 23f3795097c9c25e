"""Two gateway processes sharing one PostgreSQL and one Redis hold a key's limits together."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from test_key_api import post
from test_sdk_passthrough import anthropic_client, openai_client

from bastion.settings import Settings
from bastion.store.database import Database
from bastion.store.spend import SpendFilter
from bastion.testing.upstream import MockUpstream
from support import standard_models
from support.backends import PG, REDIS, drop_schema, require
from support.serve import ServeProcess


class Served:
    """A ``bastion serve`` child process, addressed like a RunningGateway by the SDK helpers."""

    def __init__(self, process: ServeProcess) -> None:
        self.process = process
        self.url = process.url
        self._stopped = False

    def stop(self) -> None:
        """SIGTERM and wait: the graceful stop writes every spend row before the process exits."""
        if not self._stopped:
            self._stopped = True
            self.process.terminate()
            assert self.process.wait() == 0, self.process.log()


@pytest.fixture
def gateway_pair(
    tmp_path: Path, write_config: Callable[[dict[str, Any]], Settings], upstream: MockUpstream
) -> Iterator[tuple[Served, Served, str]]:
    require(5432, "PostgreSQL")
    require(6379, "Redis")
    schema = "bt_" + secrets.token_hex(6)
    url = f"{PG}?schema={schema}"
    settings = write_config(
        {
            "model_list": standard_models(upstream.url),
            "general_settings": {"database_url": url},
            "bastion_settings": {"redis_url": REDIS},
            "router_settings": {"num_retries": 0},
        }
    )
    first = ServeProcess(settings.source)
    first.start()  # migrates first; the second starts on an up-to-date schema
    second = ServeProcess(settings.source)
    second.start()
    pair = Served(first), Served(second)
    yield pair[0], pair[1], url
    for served in pair:
        served.stop()
    asyncio.run(drop_schema(schema))


def test_rpm_limit_holds_across_both(gateway_pair: tuple[Served, Served, str]) -> None:
    """rpm_limit 4, calls alternating between the gateways: the fifth is refused wherever it lands."""
    first, second, _ = gateway_pair
    key = post(first, "/key/generate", {"rpm_limit": 4})["key"]
    clients = [openai_client(first, key), openai_client(second, key)]
    for n in range(4):
        clients[n % 2].chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
    with pytest.raises(openai.RateLimitError):
        clients[0].chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
    with pytest.raises(openai.RateLimitError):
        clients[1].chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )


def test_budget_burst_split_over_both_does_not_overspend(
    gateway_pair: tuple[Served, Served, str],
) -> None:
    """50 concurrent calls on one budget, half through each gateway: spend stays within the budget."""
    first, second, url = gateway_pair
    # One claude call with max_tokens=5 costs about $0.00008; the budget fits about ten.
    budget = 0.0008
    made = post(first, "/key/generate", {"max_budget": budget})
    key, token = made["key"], made["token"]
    clients = [anthropic_client(first, key), anthropic_client(second, key)]

    def call(n: int) -> str:
        try:
            clients[n % 2].messages.create(
                model="claude", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
            )
        except anthropic.BadRequestError as err:
            assert "Budget has been exceeded" in err.body["error"]["message"]  # type: ignore[index]
            return "refused"
        return "ok"

    with ThreadPoolExecutor(max_workers=25) as pool:
        outcomes = list(pool.map(call, range(50)))
    assert 1 <= outcomes.count("ok") < 50 and outcomes.count("refused") >= 1
    first.stop()  # SIGTERM: a graceful stop writes every spend row first
    second.stop()

    async def totals() -> tuple[float, float, int]:
        database = await Database.open(url, default_path="unused.db", migrate=False)
        try:
            row = await database.keys.get(token)
            logged = await database.spend.summarize_spend(SpendFilter(api_key=token))
            assert row is not None
            return row.spend, logged.spend, logged.requests
        finally:
            await database.close()

    spend, logged, requests = asyncio.run(totals())
    assert requests == 50  # one row per request, refused ones included (with no cost)
    assert spend == pytest.approx(logged, abs=1e-9)  # the key's total is the sum of its logs
    assert spend <= budget  # reservations in flight keep the burst inside the budget


def test_deleted_key_is_refused_by_the_other_process_within_a_second(
    gateway_pair: tuple[Served, Served, str],
) -> None:
    """A key deleted through one process stops working on the other in under a second."""
    first, second, _ = gateway_pair
    key = post(first, "/key/generate", {})["key"]
    other = anthropic_client(second, key)
    other.messages.create(
        model="mock", max_tokens=1, messages=[{"role": "user", "content": "x"}]
    )  # now cached
    post(first, "/key/delete", {"keys": [key]})
    deadline = time.monotonic() + 1.0
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            other.messages.create(model="mock", max_tokens=1, messages=[{"role": "user", "content": "x"}])
        except anthropic.AuthenticationError:
            refused = True
    assert refused, "the second process still accepted the deleted key after a second"
