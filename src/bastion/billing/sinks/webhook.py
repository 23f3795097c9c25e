"""A generic webhook: the event as JSON, signed with HMAC-SHA256 (see :mod:`bastion.billing.signature`).

Headers: ``Bastion-Signature: t=<unix seconds>,v1=<hex>`` and ``Idempotency-Key``. Any 2xx answer
confirms the event; receivers must drop a repeated idempotency key (at-least-once delivery).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from bastion.billing.rules import money
from bastion.billing.signature import SIGNATURE_HEADER, sign
from bastion.billing.sinks._http import post
from bastion.outbound.http import HttpPool
from bastion.settings.billing import WebhookSink as WebhookSettings
from bastion.store.billing_records import BillingEventRecord

__all__ = ["WebhookSink", "event_document"]


def event_document(event: BillingEventRecord) -> dict[str, Any]:
    """The JSON a receiver gets: amounts as decimal strings (exact), times in ISO 8601."""
    return {
        "type": "billing.event",
        "idempotency_key": event.idempotency_key,
        "request_id": event.request_id,
        "team_id": event.team_id,
        "user": event.user,
        "end_user": event.end_user,
        "model_group": event.model_group,
        "model": event.model,
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "cache_read_tokens": event.cache_read_tokens,
        "cache_write_tokens": event.cache_write_tokens,
        "total_tokens": event.total_tokens,
        "cost_usd": str(money(event.cost)),
        "markup": str(money(event.markup).normalize()),
        "amount_usd": str(money(event.amount)),
        "occurred_at": event.occurred_at.isoformat(),
    }


class WebhookSink:
    name = "webhook"

    def __init__(self, settings: WebhookSettings, http: HttpPool) -> None:
        self._settings = settings
        self._http = http

    async def send(self, event: BillingEventRecord) -> None:
        s = self._settings
        body = orjson.dumps(event_document(event))
        answer = await post(
            self._http,
            self.name,
            s.url,
            headers={
                SIGNATURE_HEADER: sign(s.secret.reveal(), body, int(time.time())),
                "Idempotency-Key": event.idempotency_key,
            },
            timeout=s.timeout,
            json_body=body,
        )
        if not answer.ok:
            raise answer.failure(self.name)
