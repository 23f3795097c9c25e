"""Turns a finished request into cost, a structured log line and metrics.

It runs once per request, when the answer is complete and before its last bytes are written. The
cost and the ``sinks`` (the spend journal: the row must be safe before the client has its answer)
run then; the metrics and the log line run right after, in the event loop's next turn, which is
after the handler has written its answer: they are off the latency path, and still before the loop
reads anything new, so a client that reads ``/metrics`` right after its call sees it counted.
Without a running loop (a script, a test) everything runs at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bastion.accounting.pricing import PriceBook
from bastion.accounting.records import UsageRecord
from bastion.observability.metrics import Metrics

__all__ = ["UsageRecorder"]


class UsageRecorder:
    def __init__(self, *, prices: PriceBook, metrics: Metrics, log_requests: bool = True) -> None:
        self._prices = prices
        self._metrics = metrics
        self._log = logging.getLogger("bastion.request")
        self._log_requests = log_requests
        self.sinks: list[Callable[[UsageRecord], None]] = []

    def cost(self, rec: UsageRecord) -> float:
        """What the finished request cost (its writer sets it on the record before :meth:`record`)."""
        if rec.cache_hit:
            return 0.0  # answered from the cache: no provider was paid
        if rec.provider is not None and rec.upstream_model is not None and rec.usage.total_tokens:
            # The mock provider is free unless its deployment has model_info prices (demos of billing).
            return self._prices.cost(
                rec.usage, provider=rec.provider, model=rec.upstream_model, deployment_id=rec.deployment_id
            )
        return rec.cost_usd

    def record(self, rec: UsageRecord) -> None:
        """Hand the finished, priced record to the sinks, then the metrics and the log line."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._account(rec)
        else:
            loop.call_soon(self._account, rec)  # after this turn, which writes the answer
        for sink in self.sinks:
            sink(rec)

    def _account(self, rec: UsageRecord) -> None:
        """Metrics and the request's log line."""
        try:
            self._count(rec)
            if self._log_requests and self._log.isEnabledFor(logging.INFO):  # no fields built for nothing
                self._log.info("request", extra={"fields": rec.to_log_fields()})
        except Exception:
            logging.getLogger("bastion.accounting").exception("counting request %s failed", rec.request_id)

    def _count(self, rec: UsageRecord) -> None:
        m = self._metrics
        group = rec.model_group or "none"
        provider = rec.provider or "none"
        m.requests.labels(rec.surface, group, provider, str(rec.status)).inc()
        if rec.error_kind is not None:
            m.errors.labels(rec.surface, group, rec.error_kind).inc()
        m.latency.labels(group, "true" if rec.stream else "false").observe(rec.latency_ms / 1000)
        if rec.ttft_ms is not None:
            m.ttft.labels(group).observe(rec.ttft_ms / 1000)
        u = rec.usage
        if u.total_tokens:
            m.tokens.labels(group, provider, "input").inc(u.input_tokens)
            m.tokens.labels(group, provider, "output").inc(u.output_tokens)
            if u.cache_read_tokens:
                m.tokens.labels(group, provider, "cache_read").inc(u.cache_read_tokens)
            if u.cache_write_tokens:
                m.tokens.labels(group, provider, "cache_write").inc(u.cache_write_tokens)
            if u.reasoning_tokens:
                m.tokens.labels(group, provider, "reasoning").inc(u.reasoning_tokens)
            m.tokens_per_request.labels(group).observe(u.total_tokens)
            team = m.team_label(rec.team_id)
            m.team_tokens.labels(team, group, "input").inc(u.input_tokens)
            m.team_tokens.labels(team, group, "output").inc(u.output_tokens)
        if rec.cost_usd:
            m.cost.labels(group, provider).inc(rec.cost_usd)
            m.team_cost.labels(m.team_label(rec.team_id), group).inc(rec.cost_usd)
