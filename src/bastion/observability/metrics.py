"""Prometheus metrics for requests, tokens, cost and upstream trouble.

Labels are bounded by configuration (surface, model group, provider, deployment id, error kind);
they never carry a key, a user id or a requested-but-unknown model name. The one label that comes
from data, ``team``, is capped: the first ``team_label_limit`` team ids a process sees get their own
label, later ones are counted under ``other`` (and requests without a team under ``none``).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE", "TEAM_LABEL_LIMIT", "Metrics", "pin_process_id"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536, 262144)

#: How many distinct teams get a label of their own (per process) before the rest become ``other``.
TEAM_LABEL_LIMIT = 100
_SCOPE_KINDS = frozenset({"key", "team", "user", "end_user", "customer", "plan", "org"})


class Metrics:
    """All of Bastion's metrics in one registry of their own (tests get a fresh one each).

    With ``multiprocess_dir`` (``bastion serve --workers N``), prometheus_client writes every
    worker's values to files there and ``render()`` sums them, so any worker answers for all.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        multiprocess_dir: str | None = None,
        team_label_limit: int = TEAM_LABEL_LIMIT,
    ) -> None:
        self._multiprocess_dir = multiprocess_dir
        self._team_label_limit = team_label_limit
        self._teams: set[str] = set()
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
        self.team_tokens = Counter(
            "bastion_team_tokens",
            "Tokens by team (capped, see team_label), model group and kind (input or output).",
            ["team", "model_group", "kind"],
            registry=r,
        )
        self.team_cost = Counter(
            "bastion_team_cost_usd",
            "Provider cost in US dollars by team (capped, see team_label) and model group.",
            ["team", "model_group"],
            registry=r,
        )
        self.limit_refusals = Counter(
            "bastion_limit_refusals",
            "Requests refused before any provider call, by reason (rpm, tpm, parallel, budget, "
            "credit) and the kind of owner whose limit was hit (key, team, user, end_user, org).",
            ["reason", "scope"],
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
        self.plan_refusals = Counter(
            "bastion_plan_quota_refusals",
            "Requests refused because the caller's plan's token quota was used up, by plan.",
            ["plan"],
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
        self.browser_tokens = Counter(
            "bastion_browser_tokens_minted",
            "Browser tokens minted on POST /api/token, by the minting key's kind.",
            ["minter"],
            registry=r,
        )
        self.browser_refusals = Counter(
            "bastion_browser_refusals",
            "Browser token-stream calls refused before they reached a provider, by reason "
            "(origin, model, max_tokens, body).",
            ["reason"],
            registry=r,
        )
        self.spend_rows_rejected = Counter(
            "bastion_spend_rows_rejected",
            "Spend rows the database refused even cleaned, by outcome: reduced (stored with only "
            "Bastion's own values, its cost counted) or set_aside (not stored; see the journal's "
            "rejected.jsonl).",
            ["outcome"],
            registry=r,
        )
        self.spend_journal_errors = Counter(
            "bastion_spend_journal_errors",
            "Spend rows that could not be appended to the local journal (disk full...).",
            registry=r,
        )
        self.shed = Counter(
            "bastion_requests_shed",
            "Requests refused with 503 before any work because this process was overloaded, by "
            "reason (event_loop_lag, in_flight) and API family (openai, anthropic, gemini, "
            "tokenstream, management, account, dashboard).",
            ["reason", "family"],
            registry=r,
        )
        self.event_loop_lag = Gauge(
            "bastion_event_loop_lag_seconds",
            "How late the event loop ran its last lag probe (the wait of any ready task).",
            registry=r,
            multiprocess_mode="max",
        )
        self.in_flight = Gauge(
            "bastion_in_flight_requests",
            "Requests being served now.",
            registry=r,
            multiprocess_mode="livesum",
        )

    def team_label(self, team_id: str | None) -> str:
        """A bounded label for a team: its id while fewer than the limit are known, else ``other``."""
        if not team_id:
            return "none"
        teams = self._teams
        if team_id in teams:
            return team_id
        if len(teams) < self._team_label_limit:
            teams.add(team_id)
            return team_id
        return "other"

    def refused(self, reason: str, scope: str) -> None:
        """Count a rate-limit, budget or credit refusal; ``scope`` is ``<kind>:<id>``, only the
        kind becomes a label."""
        kind = scope.partition(":")[0]
        self.limit_refusals.labels(reason, kind if kind in _SCOPE_KINDS else "other").inc()

    def render(self) -> bytes:
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(merged)


def pin_process_id() -> None:
    """In a worker of ``--workers N``, before any metric exists: read the process id once.

    With multiprocess metrics, prometheus_client asks ``os.getpid()`` (a system call) on every
    update of every value, to notice a ``fork``: about 3% of a worker's CPU at concurrency 64
    (py-spy). A worker never forks (its child processes exec at once), so the id it started with
    is the one its values are filed under. prometheus_client's own hook for a custom process
    identifier (``values.ValueClass``) takes it; without multiprocess metrics nothing changes.
    """
    if getattr(values.ValueClass, "_multiprocess", False):
        pid = os.getpid()
        values.ValueClass = values.MultiProcessValue(process_identifier=lambda: pid)  # type: ignore[no-untyped-call]  # untyped upstream
