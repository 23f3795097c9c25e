"""Prometheus metrics for requests, tokens, cost and upstream trouble.

Labels are bounded by configuration (surface, model group, provider, deployment id, error kind);
they never carry a key, a user id or a requested-but-unknown model name.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536, 262144)


class Metrics:
    """All of Bastion's metrics in one registry of their own (tests get a fresh one each).

    With ``multiprocess_dir`` (``bastion serve --workers N``), prometheus_client writes every
    worker's values to files there and ``render()`` sums them, so any worker answers for all.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, multiprocess_dir: str | None = None
    ) -> None:
        self._multiprocess_dir = multiprocess_dir
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "bastion_requests",
            "Client requests handled, by surface, model group and outcome.",
            ["surface", "model_group", "provider", "status"],
            registry=r,
        )
        self.errors = Counter(
            "bastion_request_errors",
            "Requests that ended in an error, by error kind.",
            ["surface", "model_group", "kind"],
            registry=r,
        )
        self.latency = Histogram(
            "bastion_request_latency_seconds",
            "Time from request to last byte.",
            ["model_group", "stream"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "bastion_time_to_first_token_seconds",
            "Time from request to the first streamed token.",
            ["model_group"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "bastion_tokens",
            "Tokens by kind (input includes cached; output includes reasoning).",
            ["model_group", "provider", "kind"],
            registry=r,
        )
        self.tokens_per_request = Histogram(
            "bastion_tokens_per_request",
            "Total tokens of one request.",
            ["model_group"],
            buckets=_TOKEN_BUCKETS,
            registry=r,
        )
        self.cost = Counter(
            "bastion_cost_usd",
            "Provider cost in US dollars.",
            ["model_group", "provider"],
            registry=r,
        )
        self.upstream_attempts = Counter(
            "bastion_upstream_attempts",
            "Calls made to upstream deployments, by result.",
            ["model_group", "deployment", "result"],
            registry=r,
        )
        self.retries = Counter(
            "bastion_retries", "Upstream calls retried after a failure.", ["model_group"], registry=r
        )
        self.fallbacks = Counter(
            "bastion_fallbacks",
            "Requests moved to a fallback model group.",
            ["model_group", "fallback_group"],
            registry=r,
        )
        self.timeouts = Counter(
            "bastion_upstream_timeouts", "Upstream calls that timed out.", ["model_group"], registry=r
        )
        self.cache = Counter(
            "bastion_cache_lookups",
            "Response cache lookups, by result (hit or miss).",
            ["model_group", "result"],
            registry=r,
        )
        self.routed = Counter(
            "bastion_routed_requests",
            "Requests a routing rule sent to another model group.",
            ["model_group", "rule", "target_group"],
            registry=r,
        )
        self.cooldowns = Counter(
            "bastion_deployment_cooldowns",
            "Times a deployment was cooled down after failing.",
            ["model_group", "deployment"],
            registry=r,
        )
        self.in_flight = Gauge(
            "bastion_in_flight_requests",
            "Requests being served now.",
            registry=r,
            multiprocess_mode="livesum",
        )

    def render(self) -> bytes:
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(merged)
