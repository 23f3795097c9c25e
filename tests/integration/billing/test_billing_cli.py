"""``bastion worker`` and ``bastion billing`` as an operator runs them: real processes, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import yaml
from billing_harness import AUTUMN_KEY, spend

from bastion.store import Database
from support import MASTER_KEY
from support.fake_billing import FakeBilling
from support.serve import BASTION


def _setup(tmp_path: Path, fake: FakeBilling, **billing: Any) -> tuple[Path, dict[str, str]]:
    config = {
        "model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/echo"}}],
        "general_settings": {"master_key": MASTER_KEY},
        "billing_settings": {"sinks": {"autumn": {"api_url": fake.url + "/autumn"}}, **billing},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, dict(os.environ, AUTUMN_API_KEY=AUTUMN_KEY)


def _insert(tmp_path: Path, *logs: Any) -> None:
    async def main() -> None:
        db = await Database.open(None, default_path=tmp_path / "bastion.db")
        try:
            await db.spend.insert_spend_logs(list(logs))
        finally:
            await db.close()

    asyncio.run(main())


def bastion(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASTION, *args], env=env, capture_output=True, text=True, timeout=60)


def test_worker_once_status_retry_and_cancel(tmp_path: Path, fake: FakeBilling) -> None:
    """--once bills and delivers everything pending and says what it did; status shows the parked
    event and the totals; retry sends it on the next run; cancel refuses a delivered event."""
    config, env = _setup(tmp_path, fake)
    _insert(tmp_path, spend("r1", 0.01), spend("r2", 0.02, minutes=1), spend("byok", 0.5, user_key=True))
    fake.fail("autumn", "400")

    once = bastion("worker", "--config", str(config), "--once", env=env)
    assert once.returncode == 0, once.stderr
    assert "billed 2 of 3 spend logs (not billed: user_key 1); 2 delivery attempts" in once.stdout
    assert "events built 2, delivered 1, failed 1, retried 0" in once.stdout
    assert "billing spend logs: 3/3" in once.stdout  # the backlog's progress, batch by batch

    status = bastion("billing", "status", "--config", str(config), env=env)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == "spend logs not yet billed: 0"
    org = next(line.split() for line in lines if line.startswith("org_a"))
    assert org[:5] == ["org_a", "0", "1", "1", "0"]  # pending, delivered, parked, cancelled
    parked = next(line.split() for line in lines if line[:1].isdigit() and " parked " in line)
    event_id = parked[0]
    assert "autumn answered 400" in status.stdout
    assert AUTUMN_KEY not in status.stdout + once.stdout + once.stderr

    retried = bastion("billing", "retry", event_id, "--config", str(config), env=env)
    assert retried.returncode == 0 and f"billing event {event_id} is now pending" in retried.stdout
    again = bastion("worker", "--config", str(config), "--once", env=env)
    assert "1 delivery attempts" in again.stdout
    assert sorted(fake.applied("autumn")) == ["spend:r1", "spend:r2"]

    refused = bastion("billing", "cancel", event_id, "--config", str(config), env=env)
    assert refused.returncode == 2 and "is delivered; only a parked event" in refused.stderr


def test_worker_runs_until_sigterm_printing_a_line_per_pass(tmp_path: Path, fake: FakeBilling) -> None:
    """Without --once the worker keeps billing and delivering, prints what each pass that did
    something did (events built; delivered, failed, retried), and stops cleanly on SIGTERM."""
    config, env = _setup(
        tmp_path, fake, billing_interval_seconds=0.05, outbox_interval_seconds=0.05, retry_base_seconds=0.05
    )
    _insert(tmp_path, spend("r1", 0.01), spend("r2", 0.02, minutes=1))
    fake.fail("autumn", "500")  # one event's first delivery fails: it is retried, then delivered
    proc = subprocess.Popen(
        [BASTION, "worker", "--config", str(config)], env=env, stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        assert "billing and outbox running (sinks: autumn)" in proc.stdout.readline()
        delivered = 0
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("outbox pass:"):
                delivered += int(line.split("delivered ")[1].split(",")[0])
            if delivered == 2:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        lines += proc.stdout.readlines()
    finally:
        proc.kill()
        proc.wait()
    assert sorted(fake.applied("autumn")) == ["spend:r1", "spend:r2"]
    billing = [line for line in lines if line.startswith("billing pass:")]
    outbox = [line for line in lines if line.startswith("outbox pass:")]
    assert sum(int(line.split("events built ")[1].split()[0].rstrip(",")) for line in billing) == 2
    totals = {"delivered": 0, "failed": 0, "retried": 0}
    for line in outbox:
        for name in totals:
            totals[name] += int(line.split(f"{name} ")[1].split(",")[0].split()[0])
    assert totals == {"delivered": 2, "failed": 0, "retried": 1}, lines
    # Passes that did nothing print nothing (the loops run every 50 ms).
    assert all(line.startswith(("billing pass:", "outbox pass:")) for line in lines), lines
    assert len(lines) <= 6, lines


def test_worker_without_billing_settings_says_so(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump({"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}]})
    )
    result = bastion("worker", "--config", str(path), "--once", env=dict(os.environ))
    assert result.returncode == 2 and "billing is off (add a billing_settings section)" in result.stderr
