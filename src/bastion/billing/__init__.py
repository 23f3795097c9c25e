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

import importlib
from typing import TYPE_CHECKING, Any

from bastion.billing.errors import BillingUnavailableError, DeliveryError, OutOfCreditError
from bastion.billing.rules import BillingRules, idempotency_key

if TYPE_CHECKING:
    from bastion.billing.entitlement import CreditCheck
    from bastion.billing.workers import BillingWorkers, DrainReport

# Loaded on first use: they bring the HTTP client (aiohttp), which a gateway without billing
# never needs (the management API imports this package for its status views).
_LAZY = {
    "CreditCheck": "bastion.billing.entitlement",
    "BillingWorkers": "bastion.billing.workers",
    "DrainReport": "bastion.billing.workers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bastion.billing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
