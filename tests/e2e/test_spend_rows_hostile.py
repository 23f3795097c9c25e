"""A request whose values a database refuses still gets its spend row, and its cost still counts.

On PostgreSQL a NUL in the request's ``user`` field made the row fail to insert: the key's spend
stayed 0, billing never saw it, and the key could be used past its budget, even after a restart.
The row is now cleaned on its way to the database, on both backends.
"""

from __future__ import annotations

import asyncio
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from test_budget_pricing import priced_models
from test_key_api import post

from bastion.store.spend import SpendFilter
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support.backends import PG, drop_schema, require

CHAT = "/v1/chat/completions"
#: One call of the "info" group (max_tokens 10 at $0.002, a short prompt at $0.001) costs about
#: $0.022 and reserves $0.028: the budget covers one call, not two.
BUDGET = 0.03


def _chat(gw: RunningGateway, key: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    body = {"model": "info", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], **extra}
    request = urllib.request.Request(
        gw.url + CHAT,
        data=orjson.dumps(body),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


@pytest.fixture(params=["embedded", "scaled"])
def config(request: pytest.FixtureRequest, upstream: MockUpstream) -> Iterator[dict[str, Any]]:
    """A config on each backend (without Redis: the budget counters restart with the process)."""
    config: dict[str, Any] = {
        "model_list": priced_models(upstream.url),
        "router_settings": {"num_retries": 0},
    }
    schema = None
    if request.param == "scaled":
        require(5432, "PostgreSQL")
        schema = "bt_" + secrets.token_hex(6)
        config["general_settings"] = {"database_url": f"{PG}?schema={schema}"}
    yield config
    if schema is not None:
        asyncio.run(drop_schema(schema))


def test_a_nul_in_the_user_field_is_recorded_and_counts_after_a_restart(
    start_gateway: Callable[..., RunningGateway], config: dict[str, Any]
) -> None:
    """A NUL in ``user``: the row is stored (the NUL removed), the key's spend counts it, and after a
    restart the budget it used up is still used up."""
    gw = start_gateway(config)
    made = post(gw, "/key/generate", {"max_budget": BUDGET})
    key, token = made["key"], made["token"]
    status, body = _chat(gw, key, user="end\u0000user")
    assert status == 200, body
    assert gw.app is not None and gw.app.spend_writer is not None and gw.app.database is not None
    gw.settle()
    gw.call(gw.app.spend_writer.flush())
    logs = gw.call(gw.app.database.spend.query_spend_logs(SpendFilter(api_key=token)))
    assert [(log.end_user, log.status) for log in logs] == [("enduser", "success")]
    assert logs[0].spend > 0.02
    stored = gw.call(gw.app.database.keys.get(token))
    assert stored is not None and stored.spend == pytest.approx(logs[0].spend)
    assert gw.app.spend_writer.reduced == 0  # cleaned, not reduced: every other value is kept
    gw.stop()

    again = start_gateway(config)  # the budget counter starts from the database
    status, body = _chat(again, key)
    assert status == 400 and "Budget has been exceeded" in body["error"]["message"], body


@pytest.mark.parametrize(
    "user",
    ["\ud800 lone surrogate", "x" * 100_000, "\u0000" * 50],
    ids=["surrogate", "huge", "only-nuls"],
)
def test_hostile_user_values_never_cost_a_row(
    start_gateway: Callable[..., RunningGateway], config: dict[str, Any], user: str
) -> None:
    """Lone surrogates, 100 kB and all-NUL ``user`` values: answered, and one row each."""
    gw = start_gateway(config)
    made = post(gw, "/key/generate", {})
    request = urllib.request.Request(
        gw.url + CHAT,
        # orjson refuses lone surrogates; a client may still send the escaped form.
        data=b'{"model": "info", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}], "user": '
        + (b'"\\ud800 lone"' if "\ud800" in user else orjson.dumps(user))
        + b"}",
        headers={"authorization": f"Bearer {made['key']}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            status = resp.status
    except urllib.error.HTTPError as err:
        status = err.code
    assert gw.app is not None and gw.app.spend_writer is not None and gw.app.database is not None
    gw.settle()
    gw.call(gw.app.spend_writer.flush())
    logs = gw.call(gw.app.database.spend.query_spend_logs(SpendFilter(api_key=made["token"])))
    assert len(logs) == 1 and logs[0].http_status == status
    assert gw.app.spend_writer.set_aside == 0
