"""The management API's request bodies and query parameters, as OpenAPI reads them.

Built from the same field lists the handlers read (:data:`GENERATE_FIELDS`, :data:`TEAM_FIELDS`,
:data:`USER_FIELDS`...), so a field added there without a type here fails at import, in the tests.
LiteLLM fields that Bastion accepts and ignores are listed, and say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bastion.administration.end_users import END_USER_FIELDS
from bastion.administration.key_fields import GENERATE_FIELDS, IGNORED_LITELLM_KEY_FIELDS
from bastion.administration.plans import PLAN_FIELDS
from bastion.administration.teams import TEAM_FIELDS
from bastion.administration.users import USER_FIELDS, USER_ROLES

__all__ = [
    "BILLING_EVENTS_QUERY",
    "BILLING_EVENT_IDS",
    "BUDGET_DELETE",
    "BUDGET_NEW",
    "BUDGET_UPDATE",
    "CUSTOMER_IDS",
    "CUSTOMER_NEW",
    "CUSTOMER_UPDATE",
    "KEY_DELETE",
    "KEY_GENERATE",
    "KEY_LIST_QUERY",
    "KEY_REF",
    "KEY_REGENERATE",
    "KEY_UPDATE",
    "PLAN_NAMES",
    "SPEND_LOGS_QUERY",
    "TEAM_DELETE",
    "TEAM_NEW",
    "TEAM_UPDATE",
    "USER_DELETE",
    "USER_NEW",
    "USER_UPDATE",
]

_TEXT = {"type": "string"}
_NAMES = {"type": "array", "items": {"type": "string"}}
_COUNT = {"type": "integer", "minimum": 0}
_DURATION = {"type": "string", "description": "A duration such as '30s', '15m', '24h', '30d' or '1mo'."}

_TYPES: dict[str, dict[str, Any]] = {
    "key": {"type": "string", "description": "A key value (sk-...) or its hash."},
    "key_alias": _TEXT,
    "duration": {**_DURATION, "description": "How long the key lives ('-1' or null: forever)."},
    "models": {**_NAMES, "description": "Model groups allowed (empty: all)."},
    "max_budget": {"type": "number", "minimum": 0, "description": "US dollars."},
    "budget_duration": {**_DURATION, "description": "How often the budget resets."},
    "team_id": _TEXT,
    "team_alias": _TEXT,
    "user_id": _TEXT,
    "user_email": _TEXT,
    "user_alias": _TEXT,
    "user_role": {"type": "string", "enum": list(USER_ROLES)},
    "teams": _NAMES,
    "auto_create_key": {"type": "boolean", "default": True},
    "metadata": {"type": "object"},
    "rpm_limit": _COUNT,
    "tpm_limit": _COUNT,
    "max_parallel_requests": _COUNT,
    "blocked": {"type": "boolean"},
    "members_with_roles": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"role": {"enum": ["admin", "user"]}, "user_id": _TEXT, "user_email": _TEXT},
        },
    },
    "new_key": {"type": "string", "description": "The new value (sk-...); generated when absent."},
    "grace_period": {**_DURATION, "description": "How long the old value keeps working."},
    "new_master_key": {"description": "Refused: the master key is set in the config."},
    "budget_id": {"type": "string", "description": "A plan's name (bastion_settings.plans or /budget/new)."},
    "max_tokens_per_period": {**_COUNT, "description": "Input and output tokens per quota period."},
    "quota_duration": {**_DURATION, "description": "How often the token quota renews."},
    "count_cache_reads": {"type": "boolean", "default": True},
    "model_aliases": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "Requested model group -> the group that serves it for the plan's members.",
    },
    "quota_message": {
        "type": "string",
        "description": "The sentence of a quota refusal: {plan}, {limit}, {period}, {renews} are filled in.",
    },
    "alias": _TEXT,
}
_IGNORED = {"description": "Accepted for LiteLLM compatibility and ignored."}


def _body(
    fields: Iterable[str], *, required: Iterable[str] = (), ignored: Iterable[str] = ()
) -> dict[str, Any]:
    properties = {name: _TYPES[name] for name in sorted(fields)}
    properties.update(dict.fromkeys(sorted(ignored), _IGNORED))
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


KEY_GENERATE = _body(GENERATE_FIELDS, ignored=IGNORED_LITELLM_KEY_FIELDS)
KEY_UPDATE = _body(GENERATE_FIELDS, ignored=IGNORED_LITELLM_KEY_FIELDS)
KEY_REGENERATE = _body(
    GENERATE_FIELDS | {"new_key", "grace_period", "new_master_key"}, ignored=IGNORED_LITELLM_KEY_FIELDS
)
KEY_REF = _body({"key", "key_alias"})
KEY_DELETE = {"type": "object", "properties": {"keys": _NAMES, "key_aliases": _NAMES}}
TEAM_NEW = _body(TEAM_FIELDS)
TEAM_UPDATE = _body(TEAM_FIELDS, required=["team_id"])
TEAM_DELETE = {"type": "object", "properties": {"team_ids": _NAMES}, "required": ["team_ids"]}
USER_NEW = _body(USER_FIELDS)
USER_UPDATE = _body(USER_FIELDS, required=["user_id"])
USER_DELETE = {"type": "object", "properties": {"user_ids": _NAMES}, "required": ["user_ids"]}
BUDGET_NEW = _body(PLAN_FIELDS, required=["budget_id"])
BUDGET_UPDATE = _body(PLAN_FIELDS, required=["budget_id"])
BUDGET_DELETE = {
    "type": "object",
    "properties": {"id": _TEXT, "budget_ids": _NAMES},
    "description": "LiteLLM's {'id': ...}, or several as 'budget_ids'.",
}
PLAN_NAMES = {"type": "object", "properties": {"budgets": _NAMES}, "required": ["budgets"]}
CUSTOMER_NEW = _body(END_USER_FIELDS, required=["user_id"])
CUSTOMER_UPDATE = _body(END_USER_FIELDS, required=["user_id"])
CUSTOMER_IDS = {"type": "object", "properties": {"user_ids": _NAMES}, "required": ["user_ids"]}
BILLING_EVENT_IDS = {
    "type": "object",
    "properties": {"id": {"type": "integer", "minimum": 1}},
    "required": ["id"],
}

KEY_LIST_QUERY = ("page", "size", "key_hash", "user_id", "team_id", "key_alias", "return_full_object")
SPEND_LOGS_QUERY = (
    "api_key",
    "start_date",
    "end_date",
    "request_id",
    "team_id",
    "user_id",
    "summarize",
    "limit",
    "offset",
)
BILLING_EVENTS_QUERY = ("status", "team_id", "start_date", "end_date", "limit", "offset")
