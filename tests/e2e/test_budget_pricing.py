"""Budgets are hard for every way a model is priced: model_info, base_model, and the shipped table.

A burst of 100 concurrent calls on a key whose budget fits about ten of them spends no more than
the budget, on one process (SQLite and PostgreSQL + Redis) and on two processes sharing PostgreSQL
and Redis. A model nobody prices cannot keep a budget: calls a budget covers are refused with a
message that says how to price it, unless the operator allows them.
"""

from __future__ import annotations

import asyncio
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from test_key_api import post
from test_shared_limits import Served

from bastion.settings import Settings
from bastion.store.database import Database
from bastion.store.spend import SpendFilter
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, deployment
from support.backends import PG, REDIS, drop_schema, gateway_on, require
from support.serve import ServeProcess

CHAT = "/v1/chat/completions"
CALLS = 100
#: The issue's reproduction: $0.001 / $0.002 per token, a budget of $0.25.
INFO_PRICES = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}
# gpt-4.1-mini in the shipped table: $0.40 / $1.60 per million tokens.
TABLE_INPUT, TABLE_OUTPUT = 0.4e-6, 1.6e-6
#: The most one call (``max_tokens: 10``, a prompt estimated at 7 tokens) may cost at each price.
ESTIMATE = {"info": 7 * 0.001 + 10 * 0.002, "base": 7 * TABLE_INPUT + 10 * TABLE_OUTPUT}
ESTIMATE["table"] = ESTIMATE["base"]
#: Budgets that fit about ten calls.
BUDGET = {"info": 0.25, "base": 10 * ESTIMATE["base"], "table": 10 * ESTIMATE["table"]}
PRICINGS = ["info", "base", "table"]


def priced_models(url: str) -> list[dict[str, Any]]:
    """One group per way of pricing, all on the mock upstream; and one model nobody prices."""
    info = deployment("info", "openai/self-hosted-llama", url + "/v1")
    info["model_info"] = dict(INFO_PRICES)
    base = deployment("base", "openai/company-gpt", url + "/v1")
    base["model_info"] = {"base_model": "gpt-4.1-mini"}
    return [
        info,
        base,
        deployment("table", "openai/gpt-4.1-mini", url + "/v1"),
        deployment("unpriced", "openai/self-hosted-mystery", url + "/v1"),
    ]


def _body(group: str, n: int) -> dict[str, Any]:
    body: dict[str, Any] = {"model": group, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    if n % 2:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


async def _burst(urls: list[str], key: str, group: str) -> dict[str, int]:
    """CALLS concurrent calls spread over ``urls`` (half of them streamed); outcomes by kind."""
    outcomes = {"ok": 0, "refused": 0}

    async def call(session: aiohttp.ClientSession, n: int) -> None:
        url = urls[n % len(urls)] + CHAT
        async with session.post(url, json=_body(group, n), headers={"authorization": f"Bearer {key}"}) as r:
            text = await r.text()
            if r.status == 200:
                assert "[DONE]" in text if n % 2 else '"choices"' in text, text
                outcomes["ok"] += 1
            else:
                assert r.status == 400 and "Budget has been exceeded" in text, (r.status, text)
                outcomes["refused"] += 1

    connector = aiohttp.TCPConnector(limit=CALLS)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(call(session, n) for n in range(CALLS)))
    return outcomes


def _check_burst(outcomes: dict[str, int], spend: float, pricing: str) -> None:
    budget = BUDGET[pricing]
    assert outcomes["ok"] >= 1 and outcomes["refused"] >= 1, outcomes
    assert 0 < spend <= budget, f"spent {spend} on a budget of {budget} ({outcomes})"
    # The key paid for every answer it got, at a price it could not have dodged: at least the
    # output of each answered call.
    output_rate = INFO_PRICES["output_cost_per_token"] if pricing == "info" else TABLE_OUTPUT
    assert spend >= outcomes["ok"] * 10 * output_rate * 0.999


@pytest.fixture(params=["embedded", "scaled"])
def priced_gateway(
    request: pytest.FixtureRequest, start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> Iterator[RunningGateway]:
    config = {"model_list": priced_models(upstream.url), "router_settings": {"num_retries": 0}}
    with gateway_on(request.param, config, start_gateway) as gw:
        yield gw


def _key_spend(gw: RunningGateway, token: str) -> float:
    assert gw.app is not None and gw.app.database is not None and gw.app.spend_writer is not None
    gw.settle()
    gw.call(gw.app.spend_writer.flush())
    record = gw.call(gw.app.database.keys.get(token))
    assert record is not None
    return record.spend


@pytest.mark.parametrize("pricing", PRICINGS)
def test_a_burst_on_one_process_stays_within_the_budget(priced_gateway: RunningGateway, pricing: str) -> None:
    """100 concurrent calls, about ten of which the budget covers: spend never passes the budget."""
    made = post(priced_gateway, "/key/generate", {"max_budget": BUDGET[pricing]})
    outcomes = asyncio.run(_burst([priced_gateway.url], made["key"], pricing))
    _check_burst(outcomes, _key_spend(priced_gateway, made["token"]), pricing)


def test_reservations_and_records_use_the_same_price(priced_gateway: RunningGateway) -> None:
    """/model/info shows the price calls are charged at, for each way of pricing."""
    info = post_get(priced_gateway, "/model/info")
    prices = {d["model_name"]: d["model_info"] for d in info["data"]}
    assert prices["info"]["input_cost_per_token"] == 0.001
    assert prices["base"]["output_cost_per_token"] == pytest.approx(TABLE_OUTPUT)
    assert prices["table"]["input_cost_per_token"] == pytest.approx(TABLE_INPUT)
    assert prices["unpriced"]["input_cost_per_token"] is None


def post_get(gw: RunningGateway, path: str) -> dict[str, Any]:
    request = urllib.request.Request(gw.url + path, headers={"authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(request) as resp:
        return orjson.loads(resp.read())  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ unpriced models


def _chat(gw: RunningGateway, key: str, group: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        gw.url + CHAT,
        data=orjson.dumps(_body(group, 0)),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def test_a_budgeted_key_is_refused_an_unpriced_model(priced_gateway: RunningGateway) -> None:
    """No price, no hard budget: a budgeted key gets a 400 naming the settings that fix it; a key
    without a budget still calls the model."""
    budgeted = post(priced_gateway, "/key/generate", {"max_budget": 1.0})["key"]
    status, body = _chat(priced_gateway, budgeted, "unpriced")
    assert status == 400, body
    error = body["error"]
    assert error["code"] == "model_not_priced"
    assert "model_info.input_cost_per_token" in error["message"]
    assert "output_cost_per_token" in error["message"] and "0 makes it free" in error["message"]
    unlimited = post(priced_gateway, "/key/generate", {})["key"]
    assert _chat(priced_gateway, unlimited, "unpriced")[0] == 200


def test_a_team_budget_also_refuses_an_unpriced_model(priced_gateway: RunningGateway) -> None:
    """The budget may be the team's: the key is refused all the same."""
    team = post(priced_gateway, "/team/new", {"max_budget": 5.0})["team_id"]
    key = post(priced_gateway, "/key/generate", {"team_id": team})["key"]
    assert _chat(priced_gateway, key, "unpriced")[0] == 400


def test_the_operator_may_allow_unpriced_models_with_budgets(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """allow_unpriced_models_with_budgets: the call goes through and costs the budget nothing."""
    gw = start_gateway(
        {
            "model_list": priced_models(upstream.url),
            "bastion_settings": {"allow_unpriced_models_with_budgets": True},
        }
    )
    made = post(gw, "/key/generate", {"max_budget": 1.0})
    status, body = _chat(gw, made["key"], "unpriced")
    assert status == 200, body
    assert _key_spend(gw, made["token"]) == 0.0


# ------------------------------------------------------------------------------ two processes


@pytest.fixture
def priced_pair(
    tmp_path: Path, write_config: Callable[[dict[str, Any]], Settings], upstream: MockUpstream
) -> Iterator[tuple[Served, Served, str]]:
    require(5432, "PostgreSQL")
    require(6379, "Redis")
    schema = "bt_" + secrets.token_hex(6)
    url = f"{PG}?schema={schema}"
    settings = write_config(
        {
            "model_list": priced_models(upstream.url),
            "general_settings": {"database_url": url},
            "bastion_settings": {"redis_url": REDIS, "log_requests": False},
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


@pytest.mark.parametrize("pricing", PRICINGS)
def test_a_burst_over_two_processes_stays_within_the_budget(
    priced_pair: tuple[Served, Served, str], pricing: str
) -> None:
    """100 concurrent calls, half through each of two gateways on PostgreSQL + Redis: the key's
    spend (the sum of its logged rows) stays within the budget."""
    first, second, url = priced_pair
    made = post(first, "/key/generate", {"max_budget": BUDGET[pricing]})
    outcomes = asyncio.run(_burst([first.url, second.url], made["key"], pricing))
    first.stop()  # SIGTERM: a graceful stop writes every spend row first
    second.stop()

    async def totals() -> tuple[float, float, int]:
        database = await Database.open(url, default_path="unused.db", migrate=False)
        try:
            row = await database.keys.get(made["token"])
            logged = await database.spend.summarize_spend(SpendFilter(api_key=made["token"]))
            assert row is not None
            return row.spend, logged.spend, logged.requests
        finally:
            await database.close()

    spend, logged, requests = asyncio.run(totals())
    assert requests == CALLS  # one row per call, refused ones included (at no cost)
    assert spend == pytest.approx(logged, abs=1e-9)
    _check_burst(outcomes, spend, pricing)


def test_a_wildcard_group_is_priced_as_the_model_the_request_names(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """``openai/*``: a budgeted call to a model the table knows is reserved and charged at its
    price; one to a model nobody prices is refused."""
    models = [*priced_models(upstream.url), deployment("openai/*", "openai/*", upstream.url + "/v1")]
    gw = start_gateway({"model_list": models})
    made = post(gw, "/key/generate", {"max_budget": 1.0})
    status, body = _chat(gw, made["key"], "openai/gpt-4.1-mini")
    assert status == 200, body
    spend = _key_spend(gw, made["token"])
    assert spend == pytest.approx(
        body["usage"]["prompt_tokens"] * TABLE_INPUT + body["usage"]["completion_tokens"] * TABLE_OUTPUT
    )
    status, body = _chat(gw, made["key"], "openai/some-unlisted-model")
    assert status == 400 and body["error"]["code"] == "model_not_priced", body
