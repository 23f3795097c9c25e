"""The database schema: SQLAlchemy Core tables for keys, teams, users and spend logs.

Column names follow LiteLLM's tables (``LiteLLM_VerificationToken``, ``LiteLLM_SpendLogs`` ...)
because integrators read them directly; table names are our own, snake_case. Spend-log timestamps
are ``start_time``/``end_time``/``completion_start_time`` (LiteLLM: ``startTime``...), and the
log's ``api_key`` always holds the key's *current* hash (see :mod:`bastion.store.keys`).

Changing this module needs a new migration in ``migrations/versions``; a test compares the two.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
    true,
)

from bastion.store._dialects import PartialIndex
from bastion.store._types import JSON_DOCUMENT, Money, UtcDateTime
from bastion.store.bounds import MAX_ID_LENGTH

__all__ = [
    "VERSION_TABLE",
    "billing_events",
    "conversation_messages",
    "conversations",
    "deleted_tokens",
    "deprecated_tokens",
    "end_users",
    "metadata",
    "plans",
    "revoked_sessions",
    "spend_logs",
    "stored_responses",
    "system_provider_keys",
    "teams",
    "user_provider_keys",
    "users",
    "verification_tokens",
]

# Deterministic constraint names, so migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_ID = MAX_ID_LENGTH  # length of ids and aliases chosen by callers (LiteLLM allows up to 255)


def _limits() -> list[Column[Any]]:
    return [
        Column("tpm_limit", Integer, nullable=True),
        Column("rpm_limit", Integer, nullable=True),
        Column("max_parallel_requests", Integer, nullable=True),
    ]


def _budget() -> list[Column[Any]]:
    return [
        Column("max_budget", Money, nullable=True),
        Column("spend", Money, nullable=False, default=0.0),
        Column("budget_duration", String(32), nullable=True),
        Column("budget_reset_at", UtcDateTime, nullable=True),
    ]


teams = Table(
    "teams",
    metadata,
    Column("team_id", String(_ID), primary_key=True),
    Column("team_alias", String(_ID), nullable=True),
    Column("models", JSON_DOCUMENT, nullable=False),
    *_budget(),
    *_limits(),
    Column("members_with_roles", JSON_DOCUMENT, nullable=False),
    Column("metadata", JSON_DOCUMENT, nullable=False),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(_ID), primary_key=True),
    Column("user_email", String(_ID), nullable=True),
    Column("user_alias", String(_ID), nullable=True),
    Column("user_role", String(64), nullable=True),
    # LiteLLM's name: the ids of the teams the user belongs to.
    Column("teams", JSON_DOCUMENT, nullable=False),
    Column("models", JSON_DOCUMENT, nullable=False),
    *_budget(),
    *_limits(),
    Column("metadata", JSON_DOCUMENT, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # People who log in (the /v2 account API) are users with a password: the same user_id their
    # spend logs carry. argon2id hash; NULL for LiteLLM users who never log in.
    Column("password_hash", String(255), nullable=True),
    Column("full_name", String(_ID), nullable=True),
    Column("is_active", Boolean, nullable=False, server_default=true()),
    Column("is_superuser", Boolean, nullable=False, server_default=false()),
)

# The login name: unique among users who can log in (LiteLLM's user_email alone is not unique).
PartialIndex(
    "ix_users_login_email", users.c.user_email, unique=True, where=users.c.password_hash.is_not(None)
)


def _sealed_key_columns() -> list[Column[Any]]:
    """A provider key as stored: envelope ciphertext (bastion.secrets) and the masked form shown."""
    return [
        Column("ciphertext", Text, nullable=False),
        Column("masked", String(32), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    ]


user_provider_keys = Table(
    "user_provider_keys",
    metadata,
    Column("user_id", String(_ID), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
    # anthropic, openai or google
    Column("provider", String(32), primary_key=True),
    *_sealed_key_columns(),
)

system_provider_keys = Table(
    "system_provider_keys",
    metadata,
    Column("provider", String(32), primary_key=True),
    *_sealed_key_columns(),
    Column("updated_by", String(_ID), nullable=True),
)

conversations = Table(
    "conversations",
    metadata,
    Column("conversation_id", String(36), primary_key=True),
    Column("user_id", String(_ID), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("model_id", String(_ID), nullable=False),
    Column("title", String(_ID), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "user_id", "updated_at"),
)

conversation_messages = Table(
    "conversation_messages",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column(
        "conversation_id",
        String(36),
        ForeignKey("conversations.conversation_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost", Money, nullable=False),
    # The spend log of the call that produced an assistant message.
    Column("request_id", String(_ID), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "conversation_id", "created_at"),
)


def _key_columns() -> list[Column[Any]]:
    """The columns a key row and its audit copy share."""
    return [
        Column("key_name", String(64), nullable=False),
        Column("key_alias", String(_ID), nullable=True),
        Column("user_id", String(_ID), nullable=True),
        Column("models", JSON_DOCUMENT, nullable=False),
        *_budget(),
        Column("expires", UtcDateTime, nullable=True),
        *_limits(),
        Column("metadata", JSON_DOCUMENT, nullable=False),
        Column("blocked", Boolean, nullable=False, default=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        Column("created_by", String(_ID), nullable=True),
        Column("updated_by", String(_ID), nullable=True),
    ]


verification_tokens = Table(
    "verification_tokens",
    metadata,
    # SHA-256 hex of the key; the plaintext is never stored.
    Column("token", String(64), primary_key=True),
    Column("team_id", String(_ID), ForeignKey("teams.team_id"), nullable=True, index=True),
    *_key_columns(),
    Index(None, "key_alias", unique=True),
    Index(None, "user_id"),
)

deprecated_tokens = Table(
    "deprecated_tokens",
    metadata,
    # The hash of a regenerated key, kept so that spend of requests in flight reaches the key and,
    # until ``revoke_at``, so that the old key still authenticates (LiteLLM's grace period).
    Column("token", String(64), primary_key=True),
    Column(
        "active_token",
        String(64),
        # ON UPDATE CASCADE: regenerating a key again re-points its older hashes to the newest.
        ForeignKey("verification_tokens.token", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("revoke_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

deleted_tokens = Table(
    "deleted_tokens",
    metadata,
    # A key may be deleted, re-created with the same value and deleted again: own surrogate id.
    Column("id", String(32), primary_key=True),
    Column("token", String(64), nullable=False, index=True),
    Column("team_id", String(_ID), nullable=True),
    *_key_columns(),
    Column("deleted_at", UtcDateTime, nullable=False),
    Column("deleted_by", String(_ID), nullable=True),
)

spend_logs = Table(
    "spend_logs",
    metadata,
    Column("request_id", String(_ID), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("team_id", String(_ID), nullable=True),
    Column("user", String(_ID), nullable=True),
    Column("end_user", String(_ID), nullable=True),
    Column("model_group", String(_ID), nullable=True),
    Column("model", String(_ID), nullable=True),
    Column("deployment_id", String(_ID), nullable=True),
    Column("custom_llm_provider", String(64), nullable=True),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cache_read_tokens", Integer, nullable=False),
    Column("cache_write_tokens", Integer, nullable=False),
    Column("reasoning_tokens", Integer, nullable=False),
    Column("total_tokens", Integer, nullable=False),
    Column("spend", Money, nullable=False),
    # LiteLLM's values: "success" or "failure"; the HTTP status says which failure.
    Column("status", String(16), nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("start_time", UtcDateTime, nullable=False),
    Column("end_time", UtcDateTime, nullable=True),
    Column("completion_start_time", UtcDateTime, nullable=True),
    Column("cache_hit", Boolean, nullable=False),
    Column("usage_estimated", Boolean, nullable=False),
    Column("client_disconnected", Boolean, nullable=False),
    Column("user_key", Boolean, nullable=False, server_default=false()),
    Column("metadata", JSON_DOCUMENT, nullable=False),
    # The billing worker's mark: NULL until it has seen the row, then "billed" or "skip:<reason>".
    Column("billing", String(32), nullable=True),
    # The plan the request was admitted under (bastion_settings.plans or /budget/new), if any.
    Column("plan", String(64), nullable=True),
    # The filters of /spend/logs: by key, team or user over a time range, and by time alone.
    Index(None, "api_key", "start_time"),
    Index(None, "team_id", "start_time"),
    Index(None, "user", "start_time"),
    Index(None, "start_time"),
    # Only the rows the billing worker has not seen yet: small, whatever the table's size.
    PartialIndex("ix_spend_logs_unbilled", "start_time", "request_id", where=text("billing IS NULL")),
)

billing_events = Table(
    "billing_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # What sinks de-duplicate on; derived from the spend record, never made anew for a retry.
    Column("idempotency_key", String(100), nullable=False, unique=True),
    Column("request_id", String(_ID), nullable=False, unique=True),
    # The org: the customer billed.
    Column("team_id", String(_ID), nullable=False),
    Column("user", String(_ID), nullable=True),
    Column("end_user", String(_ID), nullable=True),
    Column("model_group", String(_ID), nullable=True),
    Column("model", String(_ID), nullable=True),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cache_read_tokens", Integer, nullable=False),
    Column("cache_write_tokens", Integer, nullable=False),
    Column("total_tokens", Integer, nullable=False),
    # The provider's cost, the markup applied and what the org is charged (cost x markup).
    Column("cost", Money, nullable=False),
    Column("markup", Money, nullable=False),
    Column("amount", Money, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # pending -> delivered | parked; parked -> pending (retry) | cancelled.
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    # The sinks that confirmed this event; a retry skips them.
    Column("delivered_sinks", JSON_DOCUMENT, nullable=False),
    Column("last_error", String(1000), nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "status", "next_attempt_at"),
    Index(None, "team_id", "occurred_at"),
    Index(None, "occurred_at"),
)

revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    # SHA-256 hex of a dashboard session's nonce: logged out, so refused by every process until the
    # cookie would have expired anyway (then the row is purged).
    Column("session_id", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

plans = Table(
    "plans",
    metadata,
    # LiteLLM's name (/budget/new): the plan's name, what a JWT claim or a customer's budget_id says.
    Column("budget_id", String(64), primary_key=True),
    *_limits(),
    Column("max_budget", Money, nullable=True),
    Column("budget_duration", String(32), nullable=True),
    # The token quota: input and output tokens per quota_duration (NULL: no quota, never renews).
    Column("max_tokens_per_period", BigInteger, nullable=True),
    Column("quota_duration", String(32), nullable=True),
    Column("count_cache_reads", Boolean, nullable=False, server_default=true()),
    Column("models", JSON_DOCUMENT, nullable=False),
    Column("model_aliases", JSON_DOCUMENT, nullable=False),
    Column("quota_message", Text, nullable=True),
    Column("metadata", JSON_DOCUMENT, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

end_users = Table(
    "end_users",
    metadata,
    # LiteLLM's customers (/customer/new, /end_user/new): the end user id requests and tokens carry.
    Column("user_id", String(_ID), primary_key=True),
    Column("alias", String(_ID), nullable=True),
    # The plan (no foreign key: a plan of bastion_settings.plans has no row).
    Column("budget_id", String(64), nullable=True, index=True),
    Column("blocked", Boolean, nullable=False, server_default=false()),
    Column("metadata", JSON_DOCUMENT, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

stored_responses = Table(
    "responses",
    metadata,
    # The Responses API's stored responses (``store: true``), for ``previous_response_id`` and
    # ``GET /v1/responses/{id}``. ``owner`` is who may read one (``key:<hash>``, ``user:<id>``...);
    # ``body`` the response object and ``input`` its whole input, both as JSON text.
    Column("response_id", String(_ID), primary_key=True),
    Column("owner", String(_ID), nullable=False, index=True),
    Column("model", String(_ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("input", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

#: Alembic's bookkeeping table; our own name, so a database shared with another Alembic app is safe.
VERSION_TABLE = "bastion_schema_version"
