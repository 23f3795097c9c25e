"""Which spend records are billed, to whom, for how much, under which idempotency key.

Pure functions of the settings and the record: the billing worker calls :meth:`BillingRules.decide`
inside its transaction. Not billed (unless the settings say otherwise): calls paid with the
caller's own provider key (``user_key``), cache hits, calls of the master key, static keys or an
open gateway (no virtual key, team or user; billed to ``master_key_team`` with ``bill_master_key``),
records with no org (``team_id``) to charge, and records that cost nothing (failures before the
provider charged anything). Calls with a team but no key hash (end users vouched for by a JWT)
are billed to their team.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_EVEN, Decimal

from bastion.accounting.attribution import holds_virtual_key
from bastion.settings.billing import BillingSettings
from bastion.store.billing_records import NewEvent
from bastion.store.records import SpendLogRecord

__all__ = ["BillingRules", "idempotency_key", "money"]

_QUANTUM = Decimal(1).scaleb(-10)  # the store keeps USD to 10 decimal places
_KEY_LIMIT = 100  # Stripe's identifier and Autumn's idempotency keys fit in 100 characters
_PREFIX = "spend:"


def money(value: float | Decimal) -> Decimal:
    """A USD amount at the stored precision."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return exact.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def idempotency_key(request_id: str) -> str:
    """``spend:<request_id>``; a request id too long for that is replaced by its SHA-256."""
    key = _PREFIX + request_id
    if len(key) <= _KEY_LIMIT and key.isascii() and key.isprintable():
        return key
    return _PREFIX + "sha256:" + hashlib.sha256(request_id.encode()).hexdigest()


class BillingRules:
    def __init__(self, settings: BillingSettings) -> None:
        self._settings = settings

    def decide(self, record: SpendLogRecord) -> NewEvent | str:
        """The event to write for ``record``, or why it is not billed."""
        s = self._settings
        if record.user_key and not s.bill_user_key:
            return "user_key"
        if record.cache_hit and not s.bill_cache_hits:
            return "cache_hit"
        team = record.team_id
        if not team:
            if holds_virtual_key(record.api_key) or record.user:  # a key or a person without an org
                return "no_team"
            # No virtual key and no user: the master key, a static key or an open gateway.
            if not s.bill_master_key or not s.master_key_team:
                return "master_key"
            team = s.master_key_team
        cost = money(record.spend)
        if cost <= 0:
            return "zero_cost"
        markup = s.markup_for(team)
        return NewEvent(
            idempotency_key=idempotency_key(record.request_id),
            team_id=team,
            cost=float(cost),
            markup=float(markup),
            amount=float(money(cost * markup)),
        )
