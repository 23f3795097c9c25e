"""The ``billing_settings`` section: spend logs to billing events to billing providers.

Plain frozen data, read by :mod:`bastion.settings._billing`. Sink credentials are
:class:`~bastion.domain.secret.Secret` and come from the environment (``AUTUMN_API_KEY``,
``STRIPE_API_KEY``, ``BILLING_WEBHOOK_SECRET``) or an ``os.environ/`` reference, never from a
literal in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.domain.secret import Secret

__all__ = [
    "AutumnSink",
    "BillingSettings",
    "EntitlementSettings",
    "StripeSink",
    "WebhookSink",
]


@dataclass(frozen=True, slots=True)
class AutumnSink:
    """Autumn's ``POST /v1/track``: ``value`` is the billed amount times ``value_scale``."""

    api_key: Secret
    api_url: str = "https://api.useautumn.com"
    feature_id: str = "llm_credits"
    value_scale: Decimal = Decimal(1)
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class StripeSink:
    """Stripe's ``POST /v1/billing/meter_events``: an integer value (amount x ``value_scale``)."""

    api_key: Secret
    event_name: str = "llm_spend"
    api_url: str = "https://api.stripe.com"
    #: Integer units: 1_000_000 sends micro-dollars (Stripe meters sum integers best).
    value_scale: Decimal = Decimal(1_000_000)
    customer_key: str = "stripe_customer_id"
    value_key: str = "value"
    #: team_id -> Stripe customer id (``cus_...``); a team not listed is sent as its own id.
    customers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class WebhookSink:
    """A JSON POST signed with HMAC-SHA256 (see :mod:`bastion.billing.signature`)."""

    url: str
    secret: Secret
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class EntitlementSettings:
    """Refuse calls of orgs without credit: ``autumn`` asks Autumn's ``/v1/check``."""

    source: str = "autumn"
    cache_seconds: float = 10.0
    #: When the provider cannot be asked: admit (``true``, the default) or refuse.
    fail_open: bool = True


@dataclass(frozen=True, slots=True)
class BillingSettings:
    """What is billed, at what markup, how often, and where it is sent."""

    markup: Decimal = Decimal(3)
    team_markup: Mapping[str, Decimal] = field(default_factory=dict)
    bill_user_key: bool = False
    bill_cache_hits: bool = False
    bill_master_key: bool = False
    #: The org charged for master-key and static-key calls when ``bill_master_key`` is on.
    master_key_team: str | None = None
    billing_interval_seconds: float = 30.0
    outbox_interval_seconds: float = 60.0
    batch_size: int = 500
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    #: How long a claimed event stays reserved for the worker that claimed it.
    lease_seconds: float = 300.0
    #: Run the workers inside ``bastion serve`` (the embedded default).
    run_in_process: bool = True
    autumn: AutumnSink | None = None
    stripe: StripeSink | None = None
    webhook: WebhookSink | None = None
    entitlement: EntitlementSettings | None = None

    def markup_for(self, team_id: str | None) -> Decimal:
        """The markup of ``team_id``: its override, else the global one."""
        if team_id is not None and team_id in self.team_markup:
            return self.team_markup[team_id]
        return self.markup

    @property
    def sink_names(self) -> tuple[str, ...]:
        """The configured sinks, in delivery order."""
        named = (("autumn", self.autumn), ("stripe", self.stripe), ("webhook", self.webhook))
        return tuple(name for name, sink in named if sink is not None)
