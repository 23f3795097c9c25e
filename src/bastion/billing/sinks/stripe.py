"""Stripe meter events: ``POST /v1/billing/meter_events`` (form-encoded), one per billing event.

``identifier`` is the idempotency key (Stripe drops duplicates for at least 24 hours) and the same
key goes in the ``Idempotency-Key`` header for the HTTP retry itself. The value is an integer:
the billed amount times ``value_scale`` (micro-dollars by default). Stripe refuses timestamps
older than 35 days; such an event is parked with Stripe's message.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN

from bastion.billing.rules import money
from bastion.billing.sinks._http import Answer, post
from bastion.outbound.http import HttpPool
from bastion.settings.billing import StripeSink as StripeSettings
from bastion.store.billing_records import BillingEventRecord

__all__ = ["StripeSink"]


class StripeSink:
    name = "stripe"

    def __init__(self, settings: StripeSettings, http: HttpPool) -> None:
        self._settings = settings
        self._http = http

    def form(self, event: BillingEventRecord) -> dict[str, str]:
        """The meter event's form fields for ``event``."""
        s = self._settings
        value = (money(event.amount) * s.value_scale).quantize(1, rounding=ROUND_HALF_EVEN)
        return {
            "event_name": s.event_name,
            f"payload[{s.customer_key}]": s.customers.get(event.team_id, event.team_id),
            f"payload[{s.value_key}]": str(value),
            "identifier": event.idempotency_key,
            "timestamp": str(int(event.occurred_at.timestamp())),
        }

    async def send(self, event: BillingEventRecord) -> None:
        s = self._settings
        answer = await post(
            self._http,
            self.name,
            f"{s.api_url}/v1/billing/meter_events",
            headers={
                "Authorization": f"Bearer {s.api_key.reveal()}",
                "Idempotency-Key": event.idempotency_key,
            },
            timeout=s.timeout,
            form=self.form(event),
        )
        if answer.ok or _already_recorded(answer):
            return
        raise answer.failure(self.name)


def _already_recorded(answer: Answer) -> bool:
    """Stripe's refusal of an identifier it has already recorded: the event is there."""
    error = answer.json.get("error")
    if answer.status != 400 or not isinstance(error, dict):
        return False
    message = str(error.get("message") or "").lower()
    return error.get("code") == "resource_already_exists" or (
        "identifier" in message and "already" in message
    )
