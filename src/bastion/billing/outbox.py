"""The outbox worker: due billing events to every configured sink, at least once, never lost.

One pass (:meth:`Outbox.deliver_due`) claims due events with a lease, sends each to the sinks that
have not confirmed it yet, and records the outcome while it still holds the lease:

- every sink confirmed: ``delivered``;
- a sink failed: the attempt counts, the error is kept, and the event is retried after an
  exponential backoff (``retry_base_seconds`` x 2^(attempts-1), at most ``retry_max_seconds``);
- a sink refused the event itself (a 400/404/422: retrying cannot help), or ``max_attempts``
  failures: ``parked``, with the last error, until a person retries or cancels it.

A crash between a sink's confirmation and the settle sends the event again later; the idempotency
key makes the sink drop it. Two workers never hold the same event: the lease is claimed atomically.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bastion.billing.errors import DeliveryError
from bastion.billing.sinks.base import Sink
from bastion.settings.billing import BillingSettings
from bastion.store.billing import BillingRepository
from bastion.store.billing_records import BillingEventRecord

__all__ = ["Deliveries", "Outbox", "backoff_seconds"]

_log = logging.getLogger("bastion.billing.outbox")
_CONCURRENCY = 8


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failure (1, 2, ...)."""
    return float(min(cap, base * 2 ** max(attempts - 1, 0)))


@dataclass
class Deliveries:
    """What delivery passes did: attempts made, and how they ended (``delivered``: every sink
    confirmed; ``retried``: a sink failed, tried again later; ``failed``: parked until a person acts).
    An attempt whose lease was lost before it settled counts only as an attempt."""

    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: Deliveries) -> None:
        self.attempts += other.attempts
        self.delivered += other.delivered
        self.retried += other.retried
        self.failed += other.failed


class Outbox:
    def __init__(
        self,
        repository: BillingRepository,
        sinks: Sequence[Sink],
        settings: BillingSettings,
        *,
        owner: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repository
        self._sinks = list(sinks)
        self._settings = settings
        self._owner = owner
        self._clock = clock

    async def deliver_due(self) -> Deliveries:
        """Deliver every event due now; what the attempts did (none: nothing was due)."""
        done = Deliveries()
        if not self._sinks:
            return done
        while True:
            claimed = await self._repo.claim_due(
                self._owner, limit=self._settings.batch_size, lease_seconds=self._settings.lease_seconds
            )
            if not claimed:
                return done
            gate = asyncio.Semaphore(_CONCURRENCY)
            for outcome in await asyncio.gather(*(self._deliver_gated(gate, event) for event in claimed)):
                if outcome is not None:
                    setattr(done, outcome, getattr(done, outcome) + 1)
            done.attempts += len(claimed)

    async def _deliver_gated(self, gate: asyncio.Semaphore, event: BillingEventRecord) -> str | None:
        async with gate:
            return await self._deliver(event)

    async def _deliver(self, event: BillingEventRecord) -> str | None:
        """Send ``event`` to its sinks and settle it: ``delivered``, ``retried`` or ``failed``
        (parked); ``None`` when the lease was lost before the settle."""
        done = list(event.delivered_sinks)
        errors: list[str] = []
        permanent = False
        for sink in self._sinks:
            if sink.name in done:
                continue
            try:
                await sink.send(event)
            except DeliveryError as exc:
                errors.append(exc.message)
                permanent = permanent or exc.permanent
                continue
            except Exception as exc:  # a bug in a sink must not stall the batch: retried, then parked
                _log.exception("billing sink %s failed", sink.name, extra={"event_id": event.id})
                errors.append(f"{sink.name} failed: {type(exc).__name__}")
                continue
            done.append(sink.name)
        error = "; ".join(errors) if errors else None
        next_attempt: datetime | None = None
        if error is not None:
            attempts = event.attempts + 1
            if not permanent and attempts < self._settings.max_attempts:
                wait = backoff_seconds(
                    attempts, base=self._settings.retry_base_seconds, cap=self._settings.retry_max_seconds
                )
                next_attempt = self._clock() + timedelta(seconds=wait)
            else:
                _log.warning(
                    "billing event parked",
                    extra={
                        "event_id": event.id,
                        "team_id": event.team_id,
                        "attempts": attempts,
                        "error": error,
                    },
                )
        held = await self._repo.settle(
            event, self._owner, delivered_sinks=done, error=error, next_attempt_at=next_attempt
        )
        if not held:
            _log.warning("billing event lease lost before settling", extra={"event_id": event.id})
            return None
        if error is None:
            return "delivered"
        return "retried" if next_attempt is not None else "failed"
