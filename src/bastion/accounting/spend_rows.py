"""A finished request's usage record as a spend-log row: JSON-ready for the spool file, and back.

Rows are plain dicts (times as Unix seconds) so a batch the database refused can be written to the
spool and read back unchanged; :func:`spend_log` turns a row into the store's record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bastion.accounting.attribution import spend_key
from bastion.accounting.records import UsageRecord
from bastion.store.records import SpendLogRecord

__all__ = ["spend_log", "spend_row"]


def spend_row(rec: UsageRecord) -> dict[str, Any]:
    u = rec.usage
    return {
        "request_id": rec.request_id,
        "api_key": spend_key(rec),
        "start_time": rec.started_at,
        "end_time": rec.started_at + rec.latency_ms / 1000,
        "completion_start_time": None if rec.ttft_ms is None else rec.started_at + rec.ttft_ms / 1000,
        "spend": rec.cost_usd,
        "team_id": rec.team_id,
        "user": rec.user_id,
        # The client chooses this one: keep it within the column (255) so no request can make its
        # batch unwritable.
        "end_user": None if rec.end_user is None else rec.end_user[:255],
        "model_group": rec.model_group,
        "model": rec.upstream_model,
        "deployment_id": rec.deployment_id,
        "custom_llm_provider": rec.provider,
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "reasoning_tokens": u.reasoning_tokens,
        "total_tokens": u.total_tokens,
        "status": "success" if rec.status < 400 else "failure",
        "http_status": rec.status,
        "usage_estimated": rec.usage_estimated,
        "client_disconnected": rec.client_disconnected,
        "cache_hit": rec.cache_hit,
        "user_key": rec.user_key,
        "metadata": {"surface": rec.surface, "stream": rec.stream, "attempts": rec.attempts}
        | ({"fallback_group": rec.fallback_group} if rec.fallback_group else {})
        | ({"error_kind": rec.error_kind} if rec.error_kind else {})
        | ({"route": rec.route_rule, "routed_from": rec.routed_from} if rec.route_rule else {}),
    }


def spend_log(row: dict[str, Any]) -> SpendLogRecord:
    values = dict(row)
    for name in ("start_time", "end_time", "completion_start_time"):
        value = values.get(name)
        if value is not None:
            values[name] = datetime.fromtimestamp(float(value), tz=UTC)
    return SpendLogRecord(**values)
