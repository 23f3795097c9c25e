"""Autumn (useautumn.com): ``POST /v1/track`` deducts the billed amount from the org's balance.

The org (``team_id``) is Autumn's ``customer_id``; ``value`` is the billed amount in USD times
``value_scale`` (so a feature counted in cents uses 100). The idempotency key goes in the body, as
Autumn defines it, and Autumn drops a repeated key.
"""

from __future__ import annotations

import orjson

from bastion.billing.rules import money
from bastion.billing.sinks._http import post
from bastion.outbound.http import HttpPool
from bastion.settings.billing import AutumnSink as AutumnSettings
from bastion.store.billing_records import BillingEventRecord

__all__ = ["AutumnSink"]

_DUPLICATE_CODES = frozenset({"duplicate_idempotency_key", "idempotency_key_already_used", "duplicate_event"})


class AutumnSink:
    name = "autumn"

    def __init__(self, settings: AutumnSettings, http: HttpPool) -> None:
        self._settings = settings
        self._http = http

    def body(self, event: BillingEventRecord) -> dict[str, object]:
        """The track request for ``event``."""
        return {
            "customer_id": event.team_id,
            "feature_id": self._settings.feature_id,
            "value": float(money(event.amount) * self._settings.value_scale),
            "idempotency_key": event.idempotency_key,
            "timestamp": int(event.occurred_at.timestamp() * 1000),
            "properties": {
                "request_id": event.request_id,
                "model": event.model_group or event.model,
                "user": event.user,
                "end_user": event.end_user,
                "prompt_tokens": event.prompt_tokens,
                "completion_tokens": event.completion_tokens,
                "total_tokens": event.total_tokens,
                "cost_usd": event.cost,
                "markup": event.markup,
                "amount_usd": event.amount,
            },
        }

    async def send(self, event: BillingEventRecord) -> None:
        s = self._settings
        answer = await post(
            self._http,
            self.name,
            f"{s.api_url}/v1/track",
            headers={
                "Authorization": f"Bearer {s.api_key.reveal()}",
                "Idempotency-Key": event.idempotency_key,
            },
            timeout=s.timeout,
            json_body=orjson.dumps(self.body(event)),
        )
        if answer.ok or answer.json.get("code") in _DUPLICATE_CODES:
            return
        raise answer.failure(self.name)
