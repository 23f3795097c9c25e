"""The fields of a key (``/key/generate``, ``/key/update``, ``/key/regenerate``, the dashboard's
key forms, ``bastion keys create``), read into the columns of a key row.

Fields LiteLLM has but Bastion does not act on are accepted and ignored, never echoed: see
:data:`IGNORED_LITELLM_KEY_FIELDS`. ``spend`` is one of them on purpose: a key's spend is the sum
of its spend logs, so it cannot be set by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from bastion.administration.budgets import Budgets
from bastion.administration.fields import Fields, checked_time
from bastion.domain.errors import InvalidRequestError

__all__ = [
    "ALL_TEAM_MODELS",
    "CLEARABLE_SHARED",
    "GENERATE_FIELDS",
    "IGNORED_LITELLM_KEY_FIELDS",
    "KEY_TEXT_FIELDS",
    "SHARED_TEXT_FIELDS",
    "cleared",
    "expiry_change",
    "key_changes",
    "limit_changes",
    "note_ignored",
]

_log = logging.getLogger("bastion.administration")

#: LiteLLM's "every model of the key's team" sentinel; an empty list means the same here.
ALL_TEAM_MODELS = "all-team-models"

#: The ``/key/generate`` fields Bastion applies.
GENERATE_FIELDS = frozenset(
    {
        "key",
        "key_alias",
        "duration",
        "models",
        "max_budget",
        "budget_duration",
        "team_id",
        "user_id",
        "metadata",
        "rpm_limit",
        "tpm_limit",
        "max_parallel_requests",
        "blocked",
    }
)

#: What keys and teams share among the fields forms and options set as text.
SHARED_TEXT_FIELDS = (
    "models",
    "max_budget",
    "budget_duration",
    "rpm_limit",
    "tpm_limit",
    "max_parallel_requests",
)
#: The fields the dashboard's key forms and ``bastion keys create`` may set, as text.
KEY_TEXT_FIELDS = ("key_alias", "team_id", "user_id", "duration", *SHARED_TEXT_FIELDS)

#: Fields of LiteLLM's ``GenerateKeyRequest``/``UpdateKeyRequest`` accepted and ignored.
IGNORED_LITELLM_KEY_FIELDS = frozenset(
    {
        "soft_budget",
        "budget_id",
        "budget_limits",
        "spend",
        "organization_id",
        "project_id",
        "agent_id",
        "tags",
        "rpm_limit_type",
        "tpm_limit_type",
        "model_rpm_limit",
        "model_tpm_limit",
        "model_max_budget",
        "budget_fallbacks",
        "aliases",
        "config",
        "permissions",
        "allowed_cache_controls",
        "guardrails",
        "policies",
        "prompts",
        "disable_global_guardrails",
        "allowed_routes",
        "allowed_passthrough_routes",
        "key_type",
        "enforced_params",
        "object_permission",
        "router_settings",
        "access_group_ids",
        "auto_rotate",
        "rotation_interval",
        "send_invite_email",
        "default_estimated_output_tokens",
        "default_estimated_output_tokens_per_model",
        "temp_budget_increase",
        "temp_budget_expiry",
        "allowed_vector_store_indexes",
    }
)

_NEVER = ("-1", -1)

#: What clearing a field keys and teams share sets: no budget (or no period), no limit, every model.
CLEARABLE_SHARED: Mapping[str, Mapping[str, Any]] = {
    "models": {"models": ()},
    "max_budget": {"max_budget": None},
    "budget_duration": {"budget_duration": None, "budget_reset_at": None},
    "rpm_limit": {"rpm_limit": None},
    "tpm_limit": {"tpm_limit": None},
    "max_parallel_requests": {"max_parallel_requests": None},
}


def cleared(
    clear: Collection[str], body: Mapping[str, Any], clearable: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The columns emptying the fields ``clear`` names sets (a 400 for a field that cannot be
    cleared, or one ``body`` also sets)."""
    unknown = sorted(set(clear) - set(clearable))
    if unknown:
        raise InvalidRequestError(f"Cannot clear {', '.join(unknown)}.", param=unknown[0])
    both = sorted(name for name in clear if body.get(name) is not None)
    if both:
        raise InvalidRequestError(f"{both[0]} is both set and cleared.", param=both[0])
    changes: dict[str, Any] = {}
    for name in clear:
        changes.update(clearable[name])
    return changes


def limit_changes(body: Fields, *, blockable: bool) -> dict[str, Any]:
    """What keys, teams and users share: rate limits, metadata and (keys, teams) ``blocked``."""
    changes: dict[str, Any] = {}
    for name in ("tpm_limit", "rpm_limit", "max_parallel_requests"):
        count = body.count(name)
        if count is not None:
            changes[name] = count
    metadata = body.mapping("metadata")
    if metadata is not None:
        changes["metadata"] = metadata
    if blockable:
        blocked = body.flag("blocked")
        if blocked is not None:
            changes["blocked"] = blocked
    return changes


def key_changes(body: Fields, budgets: Budgets) -> dict[str, Any]:
    """The key columns ``body`` sets; fields absent or ``null`` are left out (unchanged)."""
    changes: dict[str, Any] = {}
    for name in ("key_alias", "team_id", "user_id"):
        text = body.text(name)
        if text is not None:
            changes[name] = text
    models = body.names("models")
    if models is not None:
        changes["models"] = tuple(model for model in models if model != ALL_TEAM_MODELS)
    changes.update(limit_changes(body, blockable=True))
    changes.update(budgets.changes(body))
    return changes


def expiry_change(body: Fields, *, now: datetime) -> tuple[bool, datetime | None]:
    """``(sent, expires)`` from ``duration``: ``null`` or ``"-1"`` mean never, as in LiteLLM."""
    if "duration" not in body.data:
        return False, None
    raw = body.data["duration"]
    if raw is None or raw in _NEVER:
        return True, None
    duration = body.duration("duration")
    if duration is None:
        raise InvalidRequestError("duration must be a duration such as '24h'.", param="duration")
    return True, checked_time("duration", lambda: duration.after(now))


def note_ignored(endpoint: str, data: Mapping[str, Any], applied: Collection[str]) -> None:
    """Log (names only, never values) the fields of a request that were accepted and ignored."""
    extra = [name for name in data if name not in applied]
    known = sorted(name for name in extra if name in IGNORED_LITELLM_KEY_FIELDS)
    unknown = sorted(name[:64] for name in extra if name not in IGNORED_LITELLM_KEY_FIELDS)
    if known:
        _log.info("%s: ignored LiteLLM fields Bastion does not act on: %s", endpoint, ", ".join(known))
    if unknown:
        _log.info("%s: ignored unknown fields: %s", endpoint, ", ".join(unknown[:20]))
