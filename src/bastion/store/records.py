"""The rows of the store as frozen dataclasses: what repositories take and give back.

These are database rows, not API models: the management API renders them into LiteLLM's response
shapes. Money is USD as ``float``; timestamps are timezone-aware UTC; JSON lists are tuples.
``created_at``/``updated_at`` left ``None`` on a new row are filled by the repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "ConversationRecord",
    "DailyUsage",
    "EndUserRecord",
    "KeyRecord",
    "MessageRecord",
    "Page",
    "PlanRecord",
    "SealedKeyRecord",
    "SpendLogRecord",
    "SpendTotals",
    "TeamRecord",
    "UserRecord",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TeamRecord:
    team_id: str
    team_alias: str | None = None
    models: tuple[str, ...] = ()
    max_budget: float | None = None
    spend: float = 0.0
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    max_parallel_requests: int | None = None
    members_with_roles: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    blocked: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    user_email: str | None = None
    user_alias: str | None = None
    user_role: str | None = None
    #: Ids of the teams the user belongs to (LiteLLM's column name).
    teams: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    max_budget: float | None = None
    spend: float = 0.0
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    max_parallel_requests: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: argon2id hash; set for people who log in to the account API (``user_email`` is the login).
    password_hash: str | None = field(default=None, repr=False)
    full_name: str | None = None
    is_active: bool = True
    is_superuser: bool = False


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A plan made through ``/budget/new`` (LiteLLM's budget table; ``budget_id`` is its name)."""

    budget_id: str
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    max_parallel_requests: int | None = None
    max_budget: float | None = None
    budget_duration: str | None = None
    max_tokens_per_period: int | None = None
    quota_duration: str | None = None
    count_cache_reads: bool = True
    models: tuple[str, ...] = ()
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    quota_message: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EndUserRecord:
    """An end user of ``/customer/new`` (LiteLLM's customer) and the plan (``budget_id``) they are on."""

    user_id: str
    alias: str | None = None
    budget_id: str | None = None
    blocked: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SealedKeyRecord:
    """A stored provider key: ``owner`` is a user id, or ``None`` for the system key of ``provider``."""

    owner: str | None
    provider: str
    #: Envelope ciphertext (:mod:`bastion.secrets`); never the key itself.
    ciphertext: str = field(repr=False)
    #: How the key is shown: ``sk-ant-...wxyz``.
    masked: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    conversation_id: str
    user_id: str
    model_id: str
    title: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    message_id: str
    conversation_id: str
    role: str
    content: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    request_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """Spend logs summed per UTC day, user and model group."""

    day: str
    user: str | None
    model_group: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    spend: float
    #: Of ``spend``, what was paid with the user's own provider key.
    user_key_spend: float


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A virtual key. ``token`` is the SHA-256 hex of the key; ``key_name`` is ``sk-...abcd``."""

    token: str
    key_name: str
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    #: Empty means every model (LiteLLM's convention).
    models: tuple[str, ...] = ()
    max_budget: float | None = None
    spend: float = 0.0
    budget_duration: str | None = None
    budget_reset_at: datetime | None = None
    #: ``None`` means the key never expires.
    expires: datetime | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    max_parallel_requests: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    blocked: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class SpendLogRecord:
    """One request: who made it, what it used, what it cost and how it ended."""

    request_id: str
    #: The key's hash; "" for calls without a key (an open gateway).
    api_key: str
    start_time: datetime
    spend: float = 0.0
    team_id: str | None = None
    #: The key's ``user_id`` (LiteLLM's meaning), not the request's ``user`` field.
    user: str | None = None
    #: The request's ``user`` field: the caller's own end user.
    end_user: str | None = None
    model_group: str | None = None
    #: The upstream model the deployment called.
    model: str | None = None
    deployment_id: str | None = None
    custom_llm_provider: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    #: ``success`` or ``failure``, as LiteLLM writes it.
    status: str = "success"
    http_status: int | None = None
    end_time: datetime | None = None
    completion_start_time: datetime | None = None
    cache_hit: bool = False
    usage_estimated: bool = False
    client_disconnected: bool = False
    #: Paid with the caller's own provider key (bring-your-own-key): recorded, never billed.
    user_key: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: The plan the request was admitted under (``bastion_settings.plans`` or ``/budget/new``).
    plan: str | None = None


@dataclass(frozen=True, slots=True)
class GroupedSpend:
    """Spend logs summed for one value of a grouping column (a team, user, key or model group)."""

    group: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    spend: float
    total_tokens: int = 0
    #: Requests that ended in failure (``status == "failure"``).
    errors: int = 0


@dataclass(frozen=True, slots=True)
class SpendTotals:
    """Sums over the spend logs matching a filter."""

    requests: int
    spend: float
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    #: Of ``prompt_tokens``, those read from the provider's prompt cache.
    cache_read_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``page`` counts from 1, as in LiteLLM's ``/key/list``."""

    items: tuple[T, ...]
    total_count: int
    page: int
    size: int

    @property
    def total_pages(self) -> int:
        return -(-self.total_count // self.size) if self.size else 0
