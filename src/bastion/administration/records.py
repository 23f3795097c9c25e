"""The rows and filters the administration services take and give back.

They are the store's own frozen records (rows, not API models: each surface renders them its own
way), named here so the surfaces reach them through the service layer and never import the store.
"""

from __future__ import annotations

from bastion.store.billing_records import BillingFilter
from bastion.store.records import (
    EndUserRecord,
    GroupedSpend,
    KeyRecord,
    Page,
    SpendLogRecord,
    TeamRecord,
    UserRecord,
)
from bastion.store.spend import RequestTiming, SpendFilter, TimedSpend

__all__ = [
    "BillingFilter",
    "EndUserRecord",
    "GroupedSpend",
    "KeyRecord",
    "Page",
    "RequestTiming",
    "SpendFilter",
    "SpendLogRecord",
    "TeamRecord",
    "TimedSpend",
    "UserRecord",
]
