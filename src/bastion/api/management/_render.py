"""Store rows rendered as LiteLLM's response objects: field names as LiteLLM's tables have them,
timestamps as ISO 8601 UTC, tuples as lists. A key's plaintext is never part of a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bastion.administration import KeyRecord, SpendLogRecord, TeamRecord, UserRecord

__all__ = ["iso", "key_info", "key_object", "spend_row", "team_info", "user_info"]


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def key_info(key: KeyRecord) -> dict[str, Any]:
    """A key row without its token: what ``/key/info`` returns under ``info``."""
    return {
        "key_name": key.key_name,
        "key_alias": key.key_alias,
        "spend": key.spend,
        "expires": iso(key.expires),
        "models": list(key.models),
        "max_budget": key.max_budget,
        "budget_duration": key.budget_duration,
        "budget_reset_at": iso(key.budget_reset_at),
        "tpm_limit": key.tpm_limit,
        "rpm_limit": key.rpm_limit,
        "max_parallel_requests": key.max_parallel_requests,
        "user_id": key.user_id,
        "team_id": key.team_id,
        "metadata": dict(key.metadata),
        "blocked": key.blocked,
        "created_at": iso(key.created_at),
        "updated_at": iso(key.updated_at),
        "created_by": key.created_by,
        "updated_by": key.updated_by,
    }


def key_object(key: KeyRecord) -> dict[str, Any]:
    """A key row with its token (the hash), as ``/key/list?return_full_object=true`` lists it."""
    return {"token": key.token, **key_info(key)}


def team_info(team: TeamRecord) -> dict[str, Any]:
    return {
        "team_id": team.team_id,
        "team_alias": team.team_alias,
        "models": list(team.models),
        "max_budget": team.max_budget,
        "spend": team.spend,
        "budget_duration": team.budget_duration,
        "budget_reset_at": iso(team.budget_reset_at),
        "tpm_limit": team.tpm_limit,
        "rpm_limit": team.rpm_limit,
        "max_parallel_requests": team.max_parallel_requests,
        "members_with_roles": [dict(member) for member in team.members_with_roles],
        "metadata": dict(team.metadata),
        "blocked": team.blocked,
        "created_at": iso(team.created_at),
        "updated_at": iso(team.updated_at),
    }


def user_info(user: UserRecord) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "user_email": user.user_email,
        "user_alias": user.user_alias,
        "user_role": user.user_role,
        "teams": list(user.teams),
        "models": list(user.models),
        "max_budget": user.max_budget,
        "spend": user.spend,
        "budget_duration": user.budget_duration,
        "budget_reset_at": iso(user.budget_reset_at),
        "tpm_limit": user.tpm_limit,
        "rpm_limit": user.rpm_limit,
        "max_parallel_requests": user.max_parallel_requests,
        "metadata": dict(user.metadata),
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
    }


def spend_row(log: SpendLogRecord) -> dict[str, Any]:
    """One request as a ``LiteLLM_SpendLogs`` row (``startTime``, ``model_id``, ``cache_hit`` as
    the string ``"True"``/``"False"``), plus Bastion's own columns under their own names."""
    return {
        "request_id": log.request_id,
        "api_key": log.api_key,
        "spend": log.spend,
        "total_tokens": log.total_tokens,
        "prompt_tokens": log.prompt_tokens,
        "completion_tokens": log.completion_tokens,
        "startTime": iso(log.start_time),
        "endTime": iso(log.end_time),
        "completionStartTime": iso(log.completion_start_time),
        "model": log.model,
        "model_id": log.deployment_id,
        "model_group": log.model_group,
        "custom_llm_provider": log.custom_llm_provider,
        "user": log.user,
        "team_id": log.team_id,
        "end_user": log.end_user,
        "status": log.status,
        "cache_hit": str(log.cache_hit),
        "metadata": dict(log.metadata),
        "cache_read_input_tokens": log.cache_read_tokens,
        "cache_creation_input_tokens": log.cache_write_tokens,
        "reasoning_tokens": log.reasoning_tokens,
        "http_status": log.http_status,
        "usage_estimated": log.usage_estimated,
        "client_disconnected": log.client_disconnected,
        "plan": log.plan,
    }
