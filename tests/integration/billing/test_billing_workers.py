"""Two ``bastion worker`` processes at once on one database: every event is sent exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

from billing_harness import spend
from test_billing_crash import _config

from bastion.store import Database
from support.fake_billing import FakeBilling
from support.serve import BASTION

EVENTS = 40


def test_two_worker_processes_never_send_an_event_twice(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """The sinks hold their answers until both processes have requests in flight (so the two
    really overlap), then answer; each idempotency key arrives once, and all of them arrive."""
    config = _config(tmp_path, database_url, fake, sinks=("webhook",))
    env = dict(os.environ, BILLING_WEBHOOK_SECRET=fake.webhook_secret, PYTHONFAULTHANDLER="1")

    async def add() -> None:
        db = await Database.open(database_url, default_path=tmp_path / "bastion.db")
        try:
            await db.spend.insert_spend_logs([spend(f"r{i:03}", 0.01, minutes=i) for i in range(EVENTS)])
        finally:
            await db.close()

    asyncio.run(add())
    fake.hold()
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    procs = []
    for log in logs:
        with log.open("w") as stderr:
            procs.append(
                subprocess.Popen(
                    [BASTION, "worker", "--config", str(config)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                )
            )
    try:
        # Both must run (signal handlers installed) before anything is asked of them: under load,
        # one worker can otherwise send every event while the other is still importing.
        for proc in procs:
            assert proc.stdout is not None
            assert b"running" in proc.stdout.readline()
        # One worker has at most batch_size (4) requests in flight: more means both are sending.
        assert fake.wait_for_calls(5, timeout=60)
        fake.release()
        assert fake.wait_for_calls(EVENTS, timeout=60)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        assert [_stopped(proc, log) for proc, log in zip(procs, logs, strict=True)] == [0, 0]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
            proc.wait()
    keys = [call.key for call in fake.calls("webhook")]
    assert len(keys) == EVENTS == len(set(keys))


def _stopped(proc: subprocess.Popen[bytes], log: Path) -> int:
    """The exit code after SIGTERM; a worker that hangs is aborted so its log shows every stack."""
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER prints every thread's stack
        proc.wait()
        raise AssertionError("the worker did not stop on SIGTERM:\n" + log.read_text()) from None
