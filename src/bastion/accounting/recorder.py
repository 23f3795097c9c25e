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
from typing import Any

from bastion.accounting.pricing import PriceBook
from bastion.accounting.records import UsageRecord
from bastion.observability.logging import log_fields
from bastion.observability.metrics import Metrics

__all__ = ["UsageRecorder"]


class UsageRecorder:
    def __init__(self, *, prices: PriceBook, metrics: Metrics, log_requests: bool = True) -> None:
        self._prices = prices
        self._metrics = metrics
        self._log = logging.getLogger("bastion.request")
        self._log_requests = log_requests
        self.sinks: list[Callable[[UsageRecord], None]] = []
        self._children: dict[tuple[str, str, str, int, bool, str], _Children] = {}

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
                log_fields(self._log, "request", rec.to_log_fields())
        except Exception:
            logging.getLogger("bastion.accounting").exception("counting request %s failed", rec.request_id)

    def _count(self, rec: UsageRecord) -> None:
        m = self._metrics
        group = rec.model_group or "none"
        provider = rec.provider or "none"
        u = rec.usage
        team = m.team_label(rec.team_id) if u.total_tokens or rec.cost_usd else "none"
        key = (rec.surface, group, provider, rec.status, rec.stream, team)
        c = self._children.get(key)
        if c is None:
            c = _Children(m, rec.surface, group, provider, str(rec.status), rec.stream, team)
            if len(self._children) < _CHILDREN_CACHED:
                self._children[key] = c
        c.requests.inc()
        if rec.error_kind is not None:
            m.errors.labels(rec.surface, group, rec.error_kind).inc()
        c.latency.observe(rec.latency_ms / 1000)
        if rec.ttft_ms is not None:
            c.ttft.observe(rec.ttft_ms / 1000)
        if u.total_tokens:
            c.input_tokens.inc(u.input_tokens)
            c.output_tokens.inc(u.output_tokens)
            if u.cache_read_tokens:
                m.tokens.labels(group, provider, "cache_read").inc(u.cache_read_tokens)
            if u.cache_write_tokens:
                m.tokens.labels(group, provider, "cache_write").inc(u.cache_write_tokens)
            if u.reasoning_tokens:
                m.tokens.labels(group, provider, "reasoning").inc(u.reasoning_tokens)
            c.tokens_per_request.observe(u.total_tokens)
            c.team_input.inc(u.input_tokens)
            c.team_output.inc(u.output_tokens)
        if rec.cost_usd:
            c.cost.inc(rec.cost_usd)
            c.team_cost.inc(rec.cost_usd)


#: Label combinations whose metric children are kept (model groups x providers x statuses x
#: surfaces x teams: bounded by the config and the team label limit; past this, looked up each time).
_CHILDREN_CACHED = 4096


class _Children:
    """The labelled metric children one kind of request updates, looked up once per combination of
    labels instead of on every request (``labels()`` takes a lock and builds a tuple each call).

    Each child is made on first use, so ``/metrics`` shows no series a request never touched."""

    __slots__ = (
        "_labels",
        "cost",
        "input_tokens",
        "latency",
        "output_tokens",
        "requests",
        "team_cost",
        "team_input",
        "team_output",
        "tokens_per_request",
        "ttft",
    )

    def __init__(
        self, m: Metrics, surface: str, group: str, provider: str, status: str, stream: bool, team: str
    ) -> None:
        self._labels = (m, surface, group, provider, status, stream, team)

    def __getattr__(self, name: str) -> Any:
        m, surface, group, provider, status, stream, team = self._labels
        child: Any
        if name == "requests":
            child = m.requests.labels(surface, group, provider, status)
        elif name == "latency":
            child = m.latency.labels(group, "true" if stream else "false")
        elif name == "ttft":
            child = m.ttft.labels(group)
        elif name == "input_tokens":
            child = m.tokens.labels(group, provider, "input")
        elif name == "output_tokens":
            child = m.tokens.labels(group, provider, "output")
        elif name == "tokens_per_request":
            child = m.tokens_per_request.labels(group)
        elif name == "team_input":
            child = m.team_tokens.labels(team, group, "input")
        elif name == "team_output":
            child = m.team_tokens.labels(team, group, "output")
        elif name == "cost":
            child = m.cost.labels(group, provider)
        elif name == "team_cost":
            child = m.team_cost.labels(team, group)
        else:
            raise AttributeError(name)
        setattr(self, name, child)
        return child
