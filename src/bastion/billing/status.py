"""What ``GET /billing/events`` and ``bastion billing status`` show: events, totals per org, backlog.

Both the API and the CLI call :func:`billing_status`, :func:`retry_event` and :func:`cancel_event`,
so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.store.billing import BillingRepository
from bastion.store.billing_records import BillingEventRecord, BillingFilter

__all__ = ["billing_status", "cancel_event", "describe_event", "retry_event"]


def describe_event(event: BillingEventRecord) -> dict[str, Any]:
    """One event as JSON (times ISO 8601, money in USD)."""

    def iso(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": event.id,
        "idempotency_key": event.idempotency_key,
        "request_id": event.request_id,
        "team_id": event.team_id,
        "user": event.user,
        "end_user": event.end_user,
        "model_group": event.model_group,
        "model": event.model,
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "total_tokens": event.total_tokens,
        "cost": event.cost,
        "markup": event.markup,
        "amount": event.amount,
        "status": event.status,
        "attempts": event.attempts,
        "delivered_sinks": list(event.delivered_sinks),
        "last_error": event.last_error,
        "occurred_at": iso(event.occurred_at),
        "created_at": iso(event.created_at),
        "next_attempt_at": iso(event.next_attempt_at) if event.status == "pending" else None,
        "delivered_at": iso(event.delivered_at),
    }


async def billing_status(
    repo: BillingRepository, where: BillingFilter, *, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Matching events (newest first), totals per org and status, and spend logs not yet billed."""
    events = await repo.list_events(where, limit=limit, offset=offset)
    totals: dict[str, dict[str, Any]] = {}
    for row in await repo.totals(where):
        org = totals.setdefault(
            row.team_id, {"team_id": row.team_id, "events": 0, "cost": 0.0, "amount": 0.0}
        )
        org["events"] += row.events
        org["cost"] += row.cost
        org["amount"] += row.amount
        org[row.status] = {"events": row.events, "amount": row.amount}
    return {
        "events": [describe_event(event) for event in events],
        "totals": list(totals.values()),
        "unbilled_spend_logs": await repo.count_unseen(),
        "limit": limit,
        "offset": offset,
    }


async def retry_event(repo: BillingRepository, event_id: int) -> dict[str, Any]:
    """Put a parked event back in the queue, due now, from its first attempt."""
    event = await repo.retry(event_id)
    if event is None:
        raise await _not_parked(repo, event_id)
    return describe_event(event)


async def cancel_event(repo: BillingRepository, event_id: int) -> dict[str, Any]:
    """Give up on a parked event for good (it stays listed, as cancelled)."""
    event = await repo.cancel(event_id)
    if event is None:
        raise await _not_parked(repo, event_id)
    return describe_event(event)


async def _not_parked(repo: BillingRepository, event_id: int) -> Exception:
    found = await repo.get(event_id)
    if found is None:
        return NotFoundError(f"No billing event has id {event_id}.", param="id")
    return InvalidRequestError(
        f"Billing event {event_id} is {found.status}; only a parked event can be retried or cancelled.",
        param="id",
        code="not_parked",
    )
