"""Plans: named tiers of limits an end user, a key or a team is put on (LiteLLM's budget tiers).

A plan is LiteLLM's ``/budget/new`` row (its id is ``budget_id``) plus what Bastion adds: a token
quota per period (``max_tokens_per_period`` + ``quota_duration``), the model groups it may call,
model aliases (a free plan's ``claude-sonnet`` served by a cheaper group) and the sentence a person
reads when the quota is used up. Every limit left ``None`` is unlimited; a plan with none is
unlimited. Plans come from ``bastion_settings.plans`` (read-only) or from the ``/budget/*`` API
(stored in the database).

Limits apply to each member on their own: a plan's ``rpm_limit`` is each end user's (or key's)
rpm, its quota each member's tokens per period, never a pool shared by the plan's members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_QUOTA_MESSAGE",
    "PLAN_LIMIT_FIELDS",
    "QUOTA_PLACEHOLDERS",
    "Plan",
    "quota_message_problem",
]

#: The sentence of a quota refusal when the plan has none of its own. Placeholders: ``{plan}``,
#: ``{limit}`` (tokens, with thousands separators), ``{period}`` ("December", "this week"...),
#: ``{renews}`` ("1 January", "Monday 8 December at 00:00 UTC"...).
DEFAULT_QUOTA_MESSAGE = (
    "Your {plan} plan's {limit} tokens for {period} are used. They renew on {renews}, or upgrade for more."
)

#: The names a quota sentence may use.
QUOTA_PLACEHOLDERS = ("plan", "limit", "period", "renews")

#: The limit fields of a plan, in the order the API and the docs list them.
PLAN_LIMIT_FIELDS = (
    "rpm_limit",
    "tpm_limit",
    "max_parallel_requests",
    "max_budget",
    "budget_duration",
    "max_tokens_per_period",
    "quota_duration",
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Plan:
    """One plan. ``source`` is ``"config"`` (``bastion_settings.plans``, read-only) or ``"api"``."""

    plan_id: str
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    max_budget: float | None = None
    budget_duration: str | None = None
    max_tokens_per_period: int | None = None
    #: ``None``: the quota never renews.
    quota_duration: str | None = None
    #: Whether tokens read from the provider's prompt cache count against the quota.
    count_cache_reads: bool = True
    #: Model groups the plan may call; empty: every model the caller may otherwise use.
    models: tuple[str, ...] = ()
    #: A requested model group -> the model group that serves it for members of this plan (applied
    #: where routing rules are, before them: see :meth:`bastion.gateway.pipeline.Pipeline.admit`).
    model_aliases: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    quota_message: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    source: str = "api"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def limits_rate(self) -> bool:
        return (
            self.rpm_limit is not None or self.tpm_limit is not None or self.max_parallel_requests is not None
        )

    @property
    def has_quota(self) -> bool:
        return self.max_tokens_per_period is not None

    @property
    def is_unlimited(self) -> bool:
        return not self.limits_rate and self.max_budget is None and not self.has_quota and not self.models

    def counted_tokens(self, *, prompt: int, completion: int, cache_read: int) -> int:
        """The tokens a call counts against the quota: input and output, cache reads if the plan says."""
        counted = prompt + completion
        if not self.count_cache_reads:
            counted -= min(cache_read, prompt)
        return max(counted, 0)


def quota_message_problem(message: str) -> str | None:
    """Why ``message`` cannot be a quota sentence (an unknown placeholder, a stray brace), or None."""
    if not message.strip():
        return "must not be empty"
    if len(message) > 1000:
        return "must be at most 1000 characters"
    try:
        message.format_map(dict.fromkeys(QUOTA_PLACEHOLDERS, ""))
    except KeyError as exc:
        return f"names {{{exc.args[0]}}}; the placeholders are " + ", ".join(
            "{" + name + "}" for name in QUOTA_PLACEHOLDERS
        )
    except (ValueError, IndexError, AttributeError):
        return "has a stray '{' or '}' (write '{{' or '}}' for a literal brace)"
    return None
