"""The sink interface and the sinks the settings configure."""

from __future__ import annotations

from typing import Protocol

from bastion.outbound.http import HttpPool
from bastion.settings.billing import BillingSettings
from bastion.store.billing_records import BillingEventRecord

__all__ = ["Sink", "build_sinks"]


class Sink(Protocol):
    """A billing provider or receiver; ``name`` is what ``delivered_sinks`` records."""

    name: str

    async def send(self, event: BillingEventRecord) -> None:
        """Return once the receiver confirmed ``event``; raise DeliveryError otherwise."""
        ...


def build_sinks(settings: BillingSettings, http: HttpPool) -> list[Sink]:
    """The configured sinks, in delivery order, on the process's HTTP client."""
    from bastion.billing.sinks.autumn import AutumnSink
    from bastion.billing.sinks.stripe import StripeSink
    from bastion.billing.sinks.webhook import WebhookSink

    sinks: list[Sink] = []
    if settings.autumn is not None:
        sinks.append(AutumnSink(settings.autumn, http))
    if settings.stripe is not None:
        sinks.append(StripeSink(settings.stripe, http))
    if settings.webhook is not None:
        sinks.append(WebhookSink(settings.webhook, http))
    return sinks
