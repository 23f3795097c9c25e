"""The billing and outbox workers: two loops under one supervisor, or one drain for ``--once``.

::

    workers = BillingWorkers(database.billing, settings.billing)
    await workers.drain()      # bill every unseen spend log, deliver every due event, return
    workers.start()            # or: loop every billing_interval / outbox_interval seconds
    await workers.stop()       # finish the current pass (and close the HTTP client if it is ours)

A pass that fails (database down, a bug) is logged and tried again at the next interval; nothing
is lost, because the spend marks and the events change only in committed transactions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bastion.billing.outbox import Deliveries, Outbox
from bastion.billing.rules import BillingRules
from bastion.billing.sinks.base import Sink, build_sinks
from bastion.outbound.http import HttpPool
from bastion.settings.billing import BillingSettings
from bastion.store.billing import BillingRepository
from bastion.tasks import spawn_service

__all__ = ["BillingWorkers", "DrainReport", "PassListener", "worker_id"]

_log = logging.getLogger("bastion.billing")


def worker_id() -> str:
    """Who holds a lease: host, process and a random suffix (unique per worker object)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class DrainReport:
    """What a pass or a drain did: spend logs seen and billed (an event built for each), skips by
    reason, and delivery attempts with how they ended."""

    seen: int = 0
    billed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    deliveries: Deliveries = field(default_factory=Deliveries)

    @property
    def attempts(self) -> int:
        return self.deliveries.attempts

    def counts(self) -> str:
        """``events built 2, delivered 1, failed 0, retried 1``: the line ``bastion worker`` prints."""
        d = self.deliveries
        return f"events built {self.billed}, delivered {d.delivered}, failed {d.failed}, retried {d.retried}"


#: Told after each pass that did something: the loop's name (``billing``, ``outbox``) and the pass.
PassListener = Callable[[str, DrainReport], None]


class BillingWorkers:
    def __init__(
        self,
        repository: BillingRepository,
        settings: BillingSettings,
        *,
        sinks: Sequence[Sink] | None = None,
        http: HttpPool | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_pass: PassListener | None = None,
    ) -> None:
        """``http`` is the process's HTTP client; without one (``bastion worker``) the workers
        open their own and close it on :meth:`stop`. ``on_pass`` hears of every loop pass that
        did something (``bastion worker`` prints it)."""
        self._repo = repository
        self._settings = settings
        self._rules = BillingRules(settings)
        self._given_sinks = sinks
        self._clock = clock
        self._http = http
        self._owned_http: HttpPool | None = None
        self._outbox: Outbox | None = None
        self._owner = worker_id()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.on_pass = on_pass

    def _the_outbox(self) -> Outbox:
        if self._outbox is None:
            sinks = self._given_sinks
            if sinks is None:
                http = self._http
                if http is None:
                    http = self._owned_http = HttpPool()
                sinks = build_sinks(self._settings, http)
            self._outbox = Outbox(self._repo, sinks, self._settings, owner=self._owner, clock=self._clock)
        return self._outbox

    async def bill(
        self, report: DrainReport | None = None, progress: Callable[[DrainReport], None] | None = None
    ) -> DrainReport:
        """Turn every unseen spend log into an event or a skip; ``progress`` hears after each batch."""
        report = report or DrainReport()
        while True:
            done = await self._repo.bill_unseen(self._rules.decide, limit=self._settings.batch_size)
            if not done.seen:
                return report
            report.seen += done.seen
            report.billed += done.billed
            for reason, count in done.skipped.items():
                report.skipped[reason] = report.skipped.get(reason, 0) + count
            if progress is not None:
                progress(report)

    async def deliver(self, report: DrainReport | None = None) -> DrainReport:
        """Attempt every event due now once."""
        report = report or DrainReport()
        report.deliveries.add(await self._the_outbox().deliver_due())
        return report

    async def drain(self, progress: Callable[[DrainReport], None] | None = None) -> DrainReport:
        """Bill everything unseen, then deliver everything due (``bastion worker --once``)."""
        report = await self.bill(progress=progress)
        return await self.deliver(report)

    def start(self) -> None:
        """Run both loops in the background until :meth:`stop`."""
        self._stopping.clear()
        self._tasks = [
            spawn_service(
                self._loop("billing", self.bill, self._settings.billing_interval_seconds), name="billing"
            ),
            spawn_service(
                self._loop("outbox", self.deliver, self._settings.outbox_interval_seconds), name="outbox"
            ),
        ]

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def request_stop(self) -> None:
        """Ask the loops to end after the pass in progress (a graceful stop, from a signal handler)."""
        self._stopping.set()

    async def run_forever(self) -> None:
        """Run both loops until :meth:`request_stop` or cancellation (``bastion worker``)."""
        self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def stop(self, *, grace_seconds: float = 10.0) -> None:
        """Let the passes in progress finish (cancelled after ``grace_seconds``: safe, as nothing
        is marked done before it is committed), then close the HTTP client if it is ours."""
        self._stopping.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        if self._owned_http is not None:
            await self._owned_http.close()
            self._owned_http = None
            self._outbox = None

    async def _loop(self, name: str, work: Callable[[], Awaitable[DrainReport]], interval: float) -> None:
        while not self._stopping.is_set():
            try:
                report = await work()
                if report.seen or report.attempts:
                    d = report.deliveries
                    _log.info(
                        f"{name} pass",
                        extra={
                            "seen": report.seen,
                            "billed": report.billed,
                            "attempts": d.attempts,
                            "delivered": d.delivered,
                            "failed": d.failed,
                            "retried": d.retried,
                        },
                    )
                    if self.on_pass is not None:
                        self.on_pass(name, report)
            except Exception:
                _log.exception(f"{name} pass failed; trying again in {interval:g}s")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
            except TimeoutError:
                continue
