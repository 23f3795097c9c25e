"""Two gateways sharing one PostgreSQL and one Redis hold a key's limits together."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai
import pytest
from test_key_api import post
from test_sdk_passthrough import anthropic_client, openai_client

from bastion.store.database import Database
from bastion.store.spend import SpendFilter
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import standard_models
from support.backends import PG, REDIS, drop_schema, require


@pytest.fixture
def gateway_pair(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> Iterator[tuple[RunningGateway, RunningGateway, str]]:
    require(5432, "PostgreSQL")
    require(6379, "Redis")
    schema = "bt_" + secrets.token_hex(6)
    url = f"{PG}?schema={schema}"
    config = {
        "model_list": standard_models(upstream.url),
        "general_settings": {"database_url": url},
        "bastion_settings": {"redis_url": REDIS},
        "router_settings": {"num_retries": 0},
    }
    first, second = start_gateway(dict(config)), start_gateway(dict(config))
    yield first, second, url
    first.stop()
    second.stop()
    asyncio.run(drop_schema(schema))


def test_rpm_limit_holds_across_both(gateway_pair: tuple[RunningGateway, RunningGateway, str]) -> None:
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
    gateway_pair: tuple[RunningGateway, RunningGateway, str],
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
    first.stop()  # graceful stops write every spend row
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
