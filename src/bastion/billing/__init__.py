"""Billing: spend logs -> billing events (with a markup) -> an outbox -> Autumn, Stripe, a webhook.

- :mod:`bastion.billing.rules`: what is billed, for how much, under which idempotency key.
- :mod:`bastion.billing.workers`: the billing and outbox workers (loops, or one drain).
- :mod:`bastion.billing.outbox`: delivery with leases, backoff and parking.
- :mod:`bastion.billing.sinks`: Autumn, Stripe meter events, signed webhook.
- :mod:`bastion.billing.signature`: the webhook signature and how receivers verify it.
- :mod:`bastion.billing.entitlement`: refuse calls of orgs out of credit (402).

The store side (spend marks, events, claims) is :mod:`bastion.store.billing`.
"""

from __future__ import annotations

from bastion.billing.entitlement import CreditCheck
from bastion.billing.errors import BillingUnavailableError, DeliveryError, OutOfCreditError
from bastion.billing.rules import BillingRules, idempotency_key
from bastion.billing.workers import BillingWorkers, DrainReport

__all__ = [
    "BillingRules",
    "BillingUnavailableError",
    "BillingWorkers",
    "CreditCheck",
    "DeliveryError",
    "DrainReport",
    "OutOfCreditError",
    "idempotency_key",
]
