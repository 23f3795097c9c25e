"""A finished request's usage record as an OpenTelemetry span (``bastion_settings.otlp_endpoint``).

Attribute names follow OpenTelemetry's GenAI and HTTP conventions where one exists
(``gen_ai.*``, ``http.response.status_code``, ``error.type``), ``bastion.*`` otherwise. Keys never
appear: the record holds only a key's hash, which is left out too.
"""

from __future__ import annotations

from bastion.accounting.records import UsageRecord
from bastion.observability.tracing import AttributeValue, RequestTracer

__all__ = ["RequestSpans"]


class RequestSpans:
    """A usage-record sink that turns each record into one span."""

    def __init__(self, tracer: RequestTracer) -> None:
        self._tracer = tracer

    def __call__(self, rec: UsageRecord) -> None:
        start_ns = int(rec.started_at * 1e9)
        end_ns = start_ns + int(rec.latency_ms * 1e6)
        self._tracer.span(
            f"{rec.surface} {rec.model_group or 'unknown'}",
            start_ns=start_ns,
            end_ns=end_ns,
            attributes=span_attributes(rec),
            error=rec.error_kind,
        )

    def close(self) -> None:
        self._tracer.close()


def span_attributes(rec: UsageRecord) -> dict[str, AttributeValue | None]:
    u = rec.usage
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": rec.provider,
        "gen_ai.request.model": rec.model_group,
        "gen_ai.response.model": rec.upstream_model,
        "gen_ai.usage.input_tokens": u.input_tokens,
        "gen_ai.usage.output_tokens": u.output_tokens,
        "http.response.status_code": rec.status,
        "error.type": rec.error_kind,
        "bastion.request_id": rec.request_id,
        "bastion.surface": rec.surface,
        "bastion.stream": rec.stream,
        "bastion.deployment": rec.deployment_id,
        "bastion.attempts": rec.attempts,
        "bastion.fallback_group": rec.fallback_group,
        "bastion.route_rule": rec.route_rule,
        "bastion.cache_hit": rec.cache_hit,
        "bastion.cost_usd": rec.cost_usd,
        "bastion.ttft_ms": rec.ttft_ms,
        "bastion.team_id": rec.team_id,
        "bastion.user_id": rec.user_id,
        "bastion.principal": rec.principal_kind,
    }
