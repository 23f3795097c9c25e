"""bastion_settings.plans, default_plan and jwt_auth.plan_claim: read, checked, and refused with a place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import Settings, load_settings

Write = Callable[..., Path]

GROUPS = """\
model_list:
  - model_name: haiku
    litellm_params: {model: mock/a}
  - model_name: sonnet
    litellm_params: {model: mock/b}
"""


def load(write_config: Write, body: str) -> Settings:
    return load_settings(write_config(GROUPS + body), environ={})


def error_of(write_config: Write, body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(write_config, body)
    return str(caught.value)


def test_plans_are_read_with_every_field(write_config: Write) -> None:
    settings = load(
        write_config,
        """
bastion_settings:
  default_plan: free
  plans:
    free:
      rpm_limit: 10
      tpm_limit: 20000
      max_parallel_requests: 2
      max_budget: 1.5
      budget_duration: 1mo
      max_tokens_per_period: 100000
      quota_duration: 1mo
      count_cache_reads: false
      models: [haiku, sonnet]
      model_aliases: {sonnet: haiku}
      quota_message: "Your {plan} plan's {limit} tokens for {period} are used. They renew on {renews}."
    pro: {}
""",
    )
    plans = settings.bastion.plans
    assert list(plans) == ["free", "pro"] and settings.bastion.default_plan == "free"
    free = plans["free"]
    assert (free.rpm_limit, free.tpm_limit, free.max_parallel_requests) == (10, 20000, 2)
    assert (free.max_budget, free.budget_duration) == (1.5, "1mo")
    assert (free.max_tokens_per_period, free.quota_duration, free.count_cache_reads) == (100000, "1mo", False)
    assert free.models == ("haiku", "sonnet") and dict(free.model_aliases) == {"sonnet": "haiku"}
    assert free.source == "config" and free.quota_message is not None
    assert plans["pro"].is_unlimited and not free.is_unlimited


def test_plan_claim_is_read(write_config: Write) -> None:
    settings = load(
        write_config,
        """
bastion_settings:
  jwt_auth:
    issuer: https://id.example
    audience: bastion
    jwks_url: https://id.example/jwks
    plan_claim: app.plan
""",
    )
    assert settings.bastion.jwt_auth is not None and settings.bastion.jwt_auth.plan_claim == "app.plan"


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ("{quota_duration: 1mo}", "quota_duration: needs a max_tokens_per_period to reset"),
        ("{max_tokens_per_period: 10, quota_duration: monthly}", "must be a whole number followed by"),
        ("{models: [opus]}", "'opus' is not a model group"),
        ("{model_aliases: {sonnet: opus}}", "'opus' is not a model group"),
        ("{model_aliases: {opus: haiku}}", "'opus' is not a model group"),
        ("{model_aliases: {sonnet: [haiku]}}", "must be a string"),
        ("{model_aliases: [sonnet]}", "model_aliases"),
        ("{quota_message: 'used {used}'}", "names {used}; the placeholders are {plan}"),
        ("{quota_message: 'a { b'}", "stray"),
        ("{max_token_per_period: 10}", "did you mean 'max_tokens_per_period'"),
        ("{max_tokens_per_period: -1}", "max_tokens_per_period"),
    ],
)
def test_bad_plans_stop_the_start_with_their_place(write_config: Write, plan: str, expected: str) -> None:
    message = error_of(write_config, f"bastion_settings:\n  plans:\n    free: {plan}\n")
    assert expected in message and "bastion_settings.plans.free" in message


def test_a_bad_plan_name_is_refused(write_config: Write) -> None:
    message = error_of(write_config, "bastion_settings:\n  plans:\n    'free plan': {}\n")
    assert "a plan's name must be" in message
