"""Billing through a real gateway: requests become charges at Autumn, operators read and fix the
outbox over /billing/events, and an org out of credit gets a 402 in its own API's format."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import openai
import orjson
import pytest
from test_jwt_auth import jwt_auth
from test_sdk_passthrough import anthropic_client, openai_client
from test_virtual_keys import make_key

from bastion.billing import BillingWorkers
from bastion.store.records import SpendLogRecord
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, STATIC_KEY, standard_models
from support.fake_billing import FakeBilling
from support.identity import SigningKey, claims

AUTUMN_KEY = "am_sk_test_e2e_0123456789"


@pytest.fixture
def fake() -> Iterator[FakeBilling]:
    with FakeBilling() as server:
        yield server


def billing_config(fake: FakeBilling, upstream: MockUpstream, **billing: Any) -> dict[str, Any]:
    return {
        "model_list": standard_models(upstream.url),
        "router_settings": {"num_retries": 0},
        "bastion_settings": {"static_keys": [{"key": STATIC_KEY}]},
        "billing_settings": {
            "sinks": {"autumn": {"api_key": AUTUMN_KEY, "api_url": fake.url + "/autumn"}},
            **billing,
        },
    }


def call(gw: RunningGateway, method: str, path: str, body: Any = None, key: str = MASTER_KEY) -> Any:
    request = urllib.request.Request(
        gw.url + path,
        method=method,
        data=None if body is None else orjson.dumps(body),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def test_a_request_is_charged_at_autumn_by_the_in_process_workers(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, fake: FakeBilling
) -> None:
    """bastion serve on the embedded default: call -> spend log -> event -> Autumn, cost x 3."""
    gw = start_gateway(
        billing_config(fake, upstream, billing_interval_seconds=0.05, outbox_interval_seconds=0.05)
    )
    key = make_key(gw, team_id="org_a", user_id="session-9")
    openai_client(gw, key).chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    record = gw.next_record()
    assert record.cost_usd > 0
    assert fake.wait_for_calls(1, timeout=20)
    [track] = fake.calls("autumn")
    assert track.fields["customer_id"] == "org_a"
    assert track.fields["idempotency_key"] == f"spend:{record.request_id}"
    assert track.value == pytest.approx(record.cost_usd * 3, rel=1e-6)
    assert track.fields["properties"]["user"] == "session-9"
    assert AUTUMN_KEY not in gw.log_text()


def test_billing_events_api_lists_totals_and_fixes_parked_events(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, fake: FakeBilling
) -> None:
    """GET /billing/events (master key only) lists events with totals per org; a parked event is
    retried or cancelled with POST /billing/events/retry or /cancel."""
    gw = start_gateway(billing_config(fake, upstream, run_in_process=False))
    assert gw.app is not None and gw.app.database is not None and gw.settings.billing is not None
    db = gw.app.database
    logs = [
        SpendLogRecord(request_id=f"r{i}", api_key="k" * 64, team_id=team, spend=0.01, start_time=when)
        for i, (team, when) in enumerate([("org_a", _t(0)), ("org_a", _t(1)), ("org_b", _t(2))])
    ]
    gw.call(db.spend.insert_spend_logs(logs))
    fake.fail("autumn", "400")  # the oldest event is refused and parks
    workers = BillingWorkers(db.billing, gw.settings.billing)
    gw.call(workers.drain())
    gw.call(workers.stop())

    status, page = call(gw, "GET", "/billing/events")
    assert status == 200
    assert [e["request_id"] for e in page["events"]] == ["r2", "r1", "r0"]
    totals = {t["team_id"]: t for t in page["totals"]}
    assert totals["org_a"]["events"] == 2 and totals["org_a"]["amount"] == pytest.approx(0.06)
    assert totals["org_a"]["parked"]["events"] == 1 and totals["org_b"]["delivered"]["events"] == 1
    assert page["unbilled_spend_logs"] == 0

    status, parked = call(gw, "GET", "/billing/events?status=parked&team_id=org_a")
    [event] = parked["events"]
    assert event["request_id"] == "r0" and "autumn answered 400" in event["last_error"]

    status, retried = call(gw, "POST", "/billing/events/retry", {"id": event["id"]})
    assert (status, retried["status"], retried["attempts"]) == (200, "pending", 0)
    status, refused = call(gw, "POST", "/billing/events/cancel", {"id": event["id"]})
    assert status == 400 and "only a parked event" in refused["error"]["message"]
    status, missing = call(gw, "POST", "/billing/events/retry", {"id": 999})
    assert status == 404 and "999" in missing["error"]["message"]

    status, denied = call(gw, "GET", "/billing/events", key=STATIC_KEY)
    assert status == 403 and denied["error"]["code"] == "admin_only"
    status, bad = call(gw, "GET", "/billing/events?status=lost")
    assert status == 400 and bad["error"]["param"] == "status"


def test_an_org_out_of_credit_gets_402_in_its_own_format(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, fake: FakeBilling
) -> None:
    """With an entitlement check, Autumn's allowed=false refuses the org's calls with a 402 on
    the OpenAI and the Anthropic surface; other orgs pass; one check serves a burst (cached)."""
    gw = start_gateway(
        billing_config(fake, upstream, run_in_process=False, entitlement={"cache_seconds": 300})
    )
    fake.credit["org_broke"] = False
    broke = make_key(gw, team_id="org_broke")
    rich = make_key(gw, team_id="org_rich")

    with pytest.raises(openai.APIStatusError) as refused:
        openai_client(gw, broke).chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.status_code == 402
    error = refused.value.body
    assert (
        isinstance(error, dict) and error["code"] == "out_of_credit" and "out of credit" in error["message"]
    )

    with pytest.raises(anthropic.APIStatusError) as refused_too:
        anthropic_client(gw, broke).messages.create(
            model="mock", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert refused_too.value.status_code == 402
    assert refused_too.value.body["error"]["type"] == "billing_error"  # type: ignore[index]

    for _ in range(3):
        assert openai_client(gw, rich).chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=2
        )
    asked = [c["customer_id"] for c in fake.checks]
    assert sorted(asked) == ["org_broke", "org_rich"]
    assert fake.checks[0]["headers"]["Authorization"] == f"Bearer {AUTUMN_KEY}"
    # The master key has no org: never checked, never refused.
    assert openai_client(gw).chat.completions.create(
        model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=2
    )
    with urllib.request.urlopen(gw.url + "/metrics") as resp:
        scraped = resp.read().decode()
    assert 'bastion_limit_refusals_total{reason="credit",scope="org"} 2.0' in scraped


def _t(minutes: int) -> datetime:
    return datetime(2026, 11, 23, 12, tzinfo=UTC) + timedelta(minutes=minutes)


def test_end_users_with_a_token_are_billed_and_checked_as_their_team(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, fake: FakeBilling
) -> None:
    """A JWT end user has no key but belongs to the token's team: charged to it, and refused with
    a 402 when that team is out of credit."""
    signer = SigningKey("ec")
    config = billing_config(
        fake,
        upstream,
        billing_interval_seconds=0.05,
        outbox_interval_seconds=0.05,
        entitlement={"cache_seconds": 300},
    )
    config["bastion_settings"]["jwt_auth"] = jwt_auth([signer])
    gw = start_gateway(config)
    fake.credit["broke"] = False

    token = signer.sign(claims("alice", org={"team": "writers"}))
    openai_client(gw, token).chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    record = gw.next_record()
    assert fake.wait_for_calls(1, timeout=20)
    [track] = fake.calls("autumn")
    assert (track.fields["customer_id"], track.fields["properties"]["user"]) == ("writers", "alice")
    assert track.value == pytest.approx(record.cost_usd * 3, rel=1e-6)

    broke = signer.sign(claims("bob", org={"team": "broke"}))
    with pytest.raises(openai.APIStatusError) as refused:
        openai_client(gw, broke).chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.status_code == 402
