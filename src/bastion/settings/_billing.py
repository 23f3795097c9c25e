"""Reading ``billing_settings``: markup, what is billed, worker timing, sinks and entitlement.

Every key must be known. Sink credentials come from the environment: ``AUTUMN_API_KEY`` (and
``AUTUMN_API_URL``), ``STRIPE_API_KEY``, ``BILLING_WEBHOOK_SECRET``, or an ``os.environ/NAME``
reference in the sink's own ``api_key``/``secret``. A configured sink without its credential is an
error at start-up, not a failure at the first delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from bastion.domain.secret import Secret
from bastion.settings._known_bastion_keys import (
    AUTUMN_SINK,
    BILLING_SETTINGS,
    BILLING_SINKS,
    ENTITLEMENT,
    STRIPE_SINK,
    WEBHOOK_SINK,
)
from bastion.settings._reader import MapReader
from bastion.settings.billing import (
    AutumnSink,
    BillingSettings,
    EntitlementSettings,
    StripeSink,
    WebhookSink,
)

__all__ = ["BILLING_SETTINGS_KEYS", "read_billing_settings"]

BILLING_SETTINGS_KEYS = BILLING_SETTINGS.names
_SINKS = BILLING_SINKS.names
_AUTUMN_KEYS = AUTUMN_SINK.names
_STRIPE_KEYS = STRIPE_SINK.names
_WEBHOOK_KEYS = WEBHOOK_SINK.names
_ENTITLEMENT_KEYS = ENTITLEMENT.names


def read_billing_settings(section: MapReader | None, env: Mapping[str, str]) -> BillingSettings | None:
    """The billing settings, or ``None`` when the section is absent (billing off)."""
    if section is None:
        return None
    section.reject_unknown(BILLING_SETTINGS_KEYS)
    defaults = BillingSettings()
    team_markup: dict[str, Decimal] = {}
    teams = section.mapping("team_markup")
    if teams is not None:
        for team in teams.data:
            team_markup[str(team)] = _decimal(teams.number(team))
    sinks = section.mapping("sinks")
    if sinks is not None:
        sinks.reject_unknown(_SINKS)
    settings = BillingSettings(
        markup=_decimal(section.number("markup")) if "markup" in section else defaults.markup,
        team_markup=MappingProxyType(team_markup),
        bill_user_key=bool(section.boolean("bill_user_key")),
        bill_cache_hits=bool(section.boolean("bill_cache_hits")),
        bill_master_key=bool(section.boolean("bill_master_key")),
        master_key_team=section.string("master_key_team"),
        billing_interval_seconds=_positive(section, "billing_interval_seconds", defaults),
        outbox_interval_seconds=_positive(section, "outbox_interval_seconds", defaults),
        batch_size=section.integer("batch_size", minimum=1) or defaults.batch_size,
        max_attempts=section.integer("max_attempts", minimum=1) or defaults.max_attempts,
        retry_base_seconds=_positive(section, "retry_base_seconds", defaults),
        retry_max_seconds=_positive(section, "retry_max_seconds", defaults),
        lease_seconds=_positive(section, "lease_seconds", defaults),
        run_in_process=_flag(section.boolean("run_in_process"), True),
        autumn=_autumn(sinks.mapping("autumn") if sinks else None, env),
        stripe=_stripe(sinks.mapping("stripe") if sinks else None, env),
        webhook=_webhook(sinks.mapping("webhook") if sinks else None, env),
        entitlement=_entitlement(section.mapping("entitlement")),
    )
    if settings.bill_master_key and not settings.master_key_team:
        raise section.at("bill_master_key").error("needs master_key_team: the org those calls are billed to")
    if settings.entitlement is not None and settings.entitlement.source == "autumn" and not settings.autumn:
        raise section.at("entitlement").error("source 'autumn' needs billing_settings.sinks.autumn")
    return settings


def _decimal(value: float | None) -> Decimal:
    return Decimal(repr(value if value is not None else 0.0))


def _positive(section: MapReader, key: str, defaults: BillingSettings) -> float:
    value = section.number(key, exclusive=True)
    return float(getattr(defaults, key)) if value is None else value


def _flag(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _secret(section: MapReader, key: str, env: Mapping[str, str], variable: str) -> Secret:
    value = section.string(key) or env.get(variable)
    if not value:
        raise section.missing(key, f"is not set: set the environment variable {variable}")
    return Secret(value)


def _autumn(section: MapReader | None, env: Mapping[str, str]) -> AutumnSink | None:
    if section is None:
        return None
    section.reject_unknown(_AUTUMN_KEYS)
    default = AutumnSink(api_key=Secret(""))
    url = section.string("api_url") or env.get("AUTUMN_API_URL") or default.api_url
    return AutumnSink(
        api_key=_secret(section, "api_key", env, "AUTUMN_API_KEY"),
        api_url=_base_url(section, url),
        feature_id=section.string("feature_id") or default.feature_id,
        value_scale=_scale(section, default.value_scale),
        timeout=section.number("timeout", exclusive=True) or default.timeout,
    )


def _stripe(section: MapReader | None, env: Mapping[str, str]) -> StripeSink | None:
    if section is None:
        return None
    section.reject_unknown(_STRIPE_KEYS)
    default = StripeSink(api_key=Secret(""))
    url = section.string("api_url") or env.get("STRIPE_API_URL") or default.api_url
    return StripeSink(
        api_key=_secret(section, "api_key", env, "STRIPE_API_KEY"),
        api_url=_base_url(section, url),
        event_name=section.string("event_name") or default.event_name,
        value_scale=_scale(section, default.value_scale),
        customer_key=section.string("customer_key") or default.customer_key,
        value_key=section.string("value_key") or default.value_key,
        customers=MappingProxyType(section.string_map("customers") or {}),
        timeout=section.number("timeout", exclusive=True) or default.timeout,
    )


def _webhook(section: MapReader | None, env: Mapping[str, str]) -> WebhookSink | None:
    if section is None:
        return None
    section.reject_unknown(_WEBHOOK_KEYS)
    url = section.require_string("url")
    if not url.startswith(("http://", "https://")):
        raise section.at("url").error("must be an http:// or https:// URL")
    return WebhookSink(
        url=url,
        secret=_secret(section, "secret", env, "BILLING_WEBHOOK_SECRET"),
        timeout=section.number("timeout", exclusive=True) or 10.0,
    )


def _entitlement(section: MapReader | None) -> EntitlementSettings | None:
    if section is None:
        return None
    section.reject_unknown(_ENTITLEMENT_KEYS)
    source = section.string("source") or "autumn"
    if source != "autumn":
        raise section.at("source").error("must be 'autumn' (the only entitlement source so far)")
    return EntitlementSettings(
        source=source,
        cache_seconds=_or(section.number("cache_seconds"), 10.0),
        fail_open=_flag(section.boolean("fail_open"), True),
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _scale(section: MapReader, default: Decimal) -> Decimal:
    value = section.number("value_scale", exclusive=True)
    return default if value is None else _decimal(value)


def _base_url(section: MapReader, url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise section.at("api_url").error("must be an http:// or https:// URL")
    return url.rstrip("/").removesuffix("/v1")
