"""Crash safety: ``bastion worker`` is SIGKILLed at random points, round after round, while the
sinks also drop connections after receiving a body. Afterwards every spend record has exactly one
billing event, every event reached every sink, and each sink's total, de-duplicated by
idempotency key, is exactly the sum of cost x markup. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from billing_harness import AUTUMN_KEY, spend

from bastion.billing import BillingWorkers
from bastion.billing.rules import money
from bastion.settings import load_settings
from bastion.store import Database
from bastion.store.billing_records import BillingFilter
from support import MASTER_KEY
from support.fake_billing import FakeBilling
from support.serve import BASTION

ROUNDS = 8
PER_ROUND = 12


def _config(
    path: Path, url: str | None, fake: FakeBilling, *, sinks: tuple[str, ...] = ("autumn", "webhook")
) -> Path:
    general: dict[str, Any] = {"master_key": MASTER_KEY}
    if url is not None:
        general["database_url"] = url
    config = {
        "model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/echo"}}],
        "general_settings": general,
        "billing_settings": {
            "billing_interval_seconds": 0.02,
            "outbox_interval_seconds": 0.02,
            "retry_base_seconds": 0.02,
            "retry_max_seconds": 0.05,
            "max_attempts": 1000,
            "batch_size": 4,
            "sinks": {
                name: sink
                for name, sink in (
                    ("autumn", {"api_url": fake.url + "/autumn"}),
                    ("webhook", {"url": fake.url + "/webhook"}),
                )
                if name in sinks
            },
        },
    }
    target = path / "config.yaml"
    target.write_text(yaml.safe_dump(config))
    return target


def test_sigkill_at_random_points_neither_loses_nor_doubles_a_charge(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    config = _config(tmp_path, database_url, fake)
    env = dict(os.environ, AUTUMN_API_KEY=AUTUMN_KEY, BILLING_WEBHOOK_SECRET=fake.webhook_secret)
    chooser = random.Random(5)
    costs: dict[str, float] = {}
    default_path = tmp_path / "bastion.db"

    async def add_spend(round_no: int) -> None:
        db = await Database.open(database_url, default_path=default_path)
        try:
            logs = [
                spend(f"r{round_no:02}-{i:02}", round(chooser.uniform(0.0001, 0.05), 6), minutes=-i)
                for i in range(PER_ROUND)
            ]
            costs.update({log.request_id: log.spend for log in logs})
            await db.spend.insert_spend_logs(logs)
        finally:
            await db.close()

    kills = 0
    for round_no in range(ROUNDS):
        asyncio.run(add_spend(round_no))
        for _ in range(chooser.randint(0, 3)):
            fake.fail(chooser.choice(["autumn", "webhook"]), chooser.choice(["reset", "500"]))
        seen = len(fake.calls())
        proc = subprocess.Popen(
            [BASTION, "worker", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Kill once the sinks saw a random number of new calls (each event makes two).
            if fake.wait_for_calls(seen + chooser.randint(1, PER_ROUND * 2), timeout=30):
                kills += 1
        finally:
            proc.kill()
            proc.wait(timeout=10)
    assert kills == ROUNDS

    async def finish() -> tuple[list[Any], int]:
        settings = load_settings(config, environ=env).billing
        assert settings is not None

        def later() -> datetime:
            """Later than any lease a killed worker held and any retry it scheduled."""
            return datetime.now(UTC) + timedelta(hours=1)

        db = await Database.open(database_url, default_path=default_path, clock=later)
        try:
            workers = BillingWorkers(db.billing, settings, clock=later)
            fake.clear_faults()
            await workers.drain()
            await workers.stop()
            events = await db.billing.list_events(BillingFilter(), limit=10_000)
            return events, await db.billing.count_unseen()
        finally:
            await db.close()

    events, unseen = asyncio.run(finish())
    assert unseen == 0
    assert sorted(e.request_id for e in events) == sorted(costs)  # exactly one event per record
    assert {e.status for e in events} == {"delivered"}
    expected = {f"spend:{rid}": money(money(cost) * 3) for rid, cost in costs.items()}
    for sink in ("autumn", "webhook"):
        applied = fake.applied(sink)
        assert set(applied) == set(expected)
        total = sum(money(Decimal(repr(value))) for value in applied.values())
        assert total == sum(expected.values())
