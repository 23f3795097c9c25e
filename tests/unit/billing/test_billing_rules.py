"""The billing rules: what is billed, at what markup, under which idempotency key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bastion.billing.outbox import backoff_seconds
from bastion.billing.rules import BillingRules, idempotency_key, money
from bastion.settings.billing import BillingSettings
from bastion.store.billing_records import NewEvent
from bastion.store.records import SpendLogRecord

RECORD = SpendLogRecord(
    request_id="req_1",
    api_key="0123abcd" * 8,
    team_id="org",
    spend=0.0123456789,
    start_time=datetime.now(UTC),
)


def test_amount_is_cost_times_markup_at_ten_places() -> None:
    event = BillingRules(BillingSettings()).decide(RECORD)
    assert isinstance(event, NewEvent)
    assert event.cost == 0.0123456789 and event.markup == 3.0
    assert Decimal(repr(event.amount)) == Decimal("0.0370370367")
    assert (event.team_id, event.idempotency_key) == ("org", "spend:req_1")


def test_team_markup_overrides_the_global_one() -> None:
    rules = BillingRules(BillingSettings(markup=Decimal(2), team_markup={"org": Decimal("1.25")}))
    event = rules.decide(RECORD)
    assert isinstance(event, NewEvent) and event.markup == 1.25


@pytest.mark.parametrize(
    ("changes", "reason", "configured"),
    [
        ({"user_key": True}, "user_key", {"bill_user_key": True}),
        ({"cache_hit": True}, "cache_hit", {"bill_cache_hits": True}),
        (
            {"api_key": "", "team_id": None, "user": None},
            "master_key",
            {"bill_master_key": True, "master_key_team": "ops"},
        ),
        # Spend rows name the master key and static keys by label (bastion.accounting.attribution).
        (
            {"api_key": "litellm_proxy_master_key", "team_id": None, "user": None},
            "master_key",
            {"bill_master_key": True, "master_key_team": "ops"},
        ),
        (
            {"api_key": "sandboxes", "team_id": None, "user": None},
            "master_key",
            {"bill_master_key": True, "master_key_team": "ops"},
        ),
    ],
)
def test_skipped_unless_configured(changes: dict[str, Any], reason: str, configured: dict[str, Any]) -> None:
    record = replace(RECORD, **changes)
    assert BillingRules(BillingSettings()).decide(record) == reason
    assert isinstance(BillingRules(BillingSettings(**configured)).decide(record), NewEvent)


def test_master_key_calls_are_billed_to_the_configured_org() -> None:
    rules = BillingRules(BillingSettings(bill_master_key=True, master_key_team="ops"))
    event = rules.decide(replace(RECORD, api_key="", team_id=None))
    assert isinstance(event, NewEvent) and event.team_id == "ops"
    # A person without an org (a token without a team claim, an account login) is not master-key traffic.
    assert rules.decide(replace(RECORD, api_key="", team_id=None, user="alice")) == "no_team"


def test_a_caller_with_a_team_but_no_key_hash_is_billed_to_its_team() -> None:
    """End users vouched for by a JWT have no key hash but belong to an org: not master-key traffic."""
    event = BillingRules(BillingSettings()).decide(replace(RECORD, api_key="", team_id="org_jwt"))
    assert isinstance(event, NewEvent) and event.team_id == "org_jwt"


def test_no_org_or_no_cost_is_never_billed() -> None:
    rules = BillingRules(BillingSettings())
    assert rules.decide(replace(RECORD, team_id=None)) == "no_team"
    assert rules.decide(replace(RECORD, spend=0.0, status="failure")) == "zero_cost"


def test_idempotency_keys_fit_stripe_and_are_stable() -> None:
    assert idempotency_key("abc") == "spend:abc"
    long = idempotency_key("x" * 200)
    assert long == idempotency_key("x" * 200) and len(long) <= 100 and long.startswith("spend:sha256:")
    assert idempotency_key("ü-nicode") != idempotency_key("u-nicode")


def test_money_rounds_half_even_at_ten_places() -> None:
    assert money(0.1 + 0.2) == Decimal("0.3000000000")


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_seconds(n, base=30, cap=200) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 200, 200]
