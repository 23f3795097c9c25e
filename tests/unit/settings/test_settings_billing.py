"""``billing_settings``: defaults, markups, sinks with credentials from the environment, and errors."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import Settings, load_settings
from bastion.settings.secret_values import secret_values

Write = Callable[..., Path]

MODELS = """\
model_list:
  - model_name: m
    litellm_params: {model: mock/a}
"""
ENV = {"AUTUMN_API_KEY": "am_sk_env_secret", "STRIPE_API_KEY": "sk_test_env", "HOOK_SECRET": "whsec_1"}


def load(write_config: Write, section: str, environ: dict[str, str] | None = None) -> Settings:
    return load_settings(write_config(MODELS + section), environ=ENV if environ is None else environ)


def test_no_section_means_billing_off(write_config: Write) -> None:
    assert load(write_config, "").billing is None


def test_defaults_and_overrides(write_config: Write) -> None:
    """3x markup and the seed's 30 s / 60 s intervals by default; per-team markup wins."""
    settings = load(
        write_config,
        """
billing_settings:
  team_markup: {org_vip: 1.5}
  sinks:
    autumn: {feature_id: ai_credits, value_scale: 100}
    stripe: {event_name: tokens, customers: {org_vip: cus_123}}
    webhook: {url: "https://hooks.example.com/bill", secret: os.environ/HOOK_SECRET}
""",
    ).billing
    assert settings is not None
    assert settings.markup == Decimal(3) and settings.markup_for("org_vip") == Decimal("1.5")
    assert settings.markup_for("other") == Decimal(3)
    assert (settings.billing_interval_seconds, settings.outbox_interval_seconds) == (30.0, 60.0)
    assert settings.sink_names == ("autumn", "stripe", "webhook")
    assert settings.autumn is not None and settings.autumn.api_key.reveal() == "am_sk_env_secret"
    assert settings.autumn.api_url == "https://api.useautumn.com" and settings.autumn.value_scale == 100
    assert settings.stripe is not None and settings.stripe.customers["org_vip"] == "cus_123"
    assert settings.webhook is not None and settings.webhook.secret.reveal() == "whsec_1"
    assert "am_sk_env_secret" not in repr(settings)


def test_autumn_url_from_the_environment(write_config: Write) -> None:
    settings = load(
        write_config,
        "billing_settings:\n  sinks:\n    autumn: {}\n",
        {"AUTUMN_API_KEY": "k", "AUTUMN_API_URL": "http://127.0.0.1:9/v1/"},
    ).billing
    assert settings is not None and settings.autumn is not None
    assert settings.autumn.api_url == "http://127.0.0.1:9"


def test_sink_credentials_reach_the_log_redactor(write_config: Write) -> None:
    settings = load(write_config, "billing_settings:\n  sinks:\n    autumn: {}\n    stripe: {}\n")
    assert {"am_sk_env_secret", "sk_test_env"} <= set(secret_values(settings))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("billing_settings:\n  sinks:\n    autumn: {}\n", "set the environment variable AUTUMN_API_KEY"),
        ("billing_settings:\n  markupp: 2\n", "unknown key (did you mean 'markup'?)"),
        ("billing_settings:\n  sinks:\n    paypal: {}\n", "billing_settings.sinks.paypal: unknown key"),
        ("billing_settings:\n  sinks:\n    webhook: {url: ftp://x, secret: s}\n", "http:// or https://"),
        ("billing_settings:\n  entitlement: {}\n", "source 'autumn' needs billing_settings.sinks.autumn"),
        ("billing_settings:\n  max_attempts: 0\n", "must be at least 1"),
        ("billing_settings:\n  bill_master_key: true\n", "needs master_key_team"),
    ],
)
def test_mistakes_are_reported_with_their_place(write_config: Write, section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"config\.yaml:\d+:") as caught:
        load(write_config, section, {})
    assert message in str(caught.value)
