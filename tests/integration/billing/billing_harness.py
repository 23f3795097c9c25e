"""Spend logs as the gateway writes them, billing settings pointed at the fake receivers, a clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bastion.domain.secret import Secret
from bastion.settings.billing import AutumnSink, BillingSettings, StripeSink, WebhookSink
from bastion.store.records import SpendLogRecord
from support.fake_billing import FakeBilling

AUTUMN_KEY = "am_sk_test_secret_0123456789"
STRIPE_KEY = "sk_test_stripe_secret_0123456789"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock shared by the store and the outbox: time moves only when a test says so."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings_for(
    fake: FakeBilling, sinks: tuple[str, ...] = ("autumn", "stripe", "webhook"), **changes: Any
) -> BillingSettings:
    base = BillingSettings(
        team_markup={"org_vip": Decimal(2)},
        retry_base_seconds=10.0,
        retry_max_seconds=60.0,
        max_attempts=3,
        autumn=AutumnSink(api_key=Secret(AUTUMN_KEY), api_url=fake.url + "/autumn", timeout=2.0)
        if "autumn" in sinks
        else None,
        stripe=StripeSink(api_key=Secret(STRIPE_KEY), api_url=fake.url + "/stripe", timeout=2.0)
        if "stripe" in sinks
        else None,
        webhook=WebhookSink(url=fake.url + "/webhook", secret=Secret(fake.webhook_secret), timeout=2.0)
        if "webhook" in sinks
        else None,
    )
    return replace(base, **changes)


def spend(
    request_id: str, cost: float, *, team: str | None = "org_a", minutes: float = 0, **fields: Any
) -> SpendLogRecord:
    """A spend log of a virtual key of ``team``, ``minutes`` after T0."""
    values: dict[str, Any] = {
        "api_key": "a" * 64,
        "team_id": team,
        "user": "session-1",
        "model_group": "claude",
        "model": "claude-sonnet-4-5",
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
    }
    values.update(fields)
    return SpendLogRecord(
        request_id=request_id, start_time=T0 + timedelta(minutes=minutes), spend=cost, **values
    )
