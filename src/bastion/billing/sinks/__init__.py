"""Where billing events go: Autumn, Stripe meter events, and a signed webhook.

A sink's :meth:`~bastion.billing.sinks.base.Sink.send` returns only when the receiver confirmed the
event (a 2xx answer, or an explicit "already recorded" for this idempotency key) and raises
:class:`~bastion.billing.errors.DeliveryError` otherwise.
"""

from __future__ import annotations

from bastion.billing.sinks.autumn import AutumnSink
from bastion.billing.sinks.base import Sink, build_sinks
from bastion.billing.sinks.stripe import StripeSink
from bastion.billing.sinks.webhook import WebhookSink

__all__ = ["AutumnSink", "Sink", "StripeSink", "WebhookSink", "build_sinks"]
