"""One usage record per request: who called what, what it consumed, what it cost, how it went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bastion.domain.usage import Usage

__all__ = ["UsageRecord"]


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    surface: str
    model_group: str | None
    stream: bool
    started_at: float
    #: Who called: ``master``, ``static_key``... and a non-secret label (key alias or hash prefix).
    principal_kind: str = "anonymous"
    principal_label: str | None = None
    #: The virtual key's hash and its owners (empty for the master key and static keys).
    key_hash: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    end_user: str | None = None
    #: The plan the request was admitted under (spend logs' ``plan``).
    plan: str | None = None
    provider: str | None = None
    deployment_id: str | None = None
    upstream_model: str | None = None
    usage: Usage = field(default_factory=Usage)
    #: Usage was not reported by the provider and had to be estimated (e.g. a broken stream).
    usage_estimated: bool = False
    cost_usd: float = 0.0
    status: int = 200
    error_kind: str | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    attempts: int = 0
    fallback_group: str | None = None
    #: A routing rule sent the request from ``routed_from`` to ``model_group``.
    route_rule: str | None = None
    routed_from: str | None = None
    client_disconnected: bool = False
    #: Answered from the response cache: no provider was called.
    cache_hit: bool = False
    #: Paid with the caller's own provider key (bring-your-own-key): recorded, never billed.
    user_key: bool = False

    def to_log_fields(self) -> dict[str, Any]:
        u = self.usage
        return {
            "event": "request",
            "request_id": self.request_id,
            "surface": self.surface,
            "model_group": self.model_group,
            "provider": self.provider,
            "deployment": self.deployment_id,
            "upstream_model": self.upstream_model,
            "stream": self.stream,
            "status": self.status,
            "error_kind": self.error_kind,
            "principal": self.principal_kind,
            "key_label": self.principal_label,
            "team_id": self.team_id,
            "user_id": self.user_id,
            "end_user": self.end_user,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "usage_estimated": self.usage_estimated,
            "cost_usd": round(self.cost_usd, 10),
            "latency_ms": round(self.latency_ms, 2),
            "ttft_ms": None if self.ttft_ms is None else round(self.ttft_ms, 2),
            "attempts": self.attempts,
            "fallback_group": self.fallback_group,
            "route_rule": self.route_rule,
            "cache_hit": self.cache_hit,
            "client_disconnected": self.client_disconnected,
        }
