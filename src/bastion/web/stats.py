"""The overview's numbers, computed from spend logs: counts, percentiles and time buckets.

A window is the last hour (12 buckets of 5 minutes), day (24 of an hour) or 30 days (30 of a
day). Latency is ``end_time - start_time``; time to first token is
``completion_start_time - start_time`` (streamed requests only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bastion.administration import RequestTiming

__all__ = ["WINDOWS", "Overview", "Window", "percentile", "summarize"]


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    label: str
    span: timedelta
    buckets: int
    label_format: str

    @property
    def bucket(self) -> timedelta:
        return self.span / self.buckets


WINDOWS = {
    "hour": Window("hour", "Last hour", timedelta(hours=1), 12, "%H:%M"),
    "day": Window("day", "Last 24 hours", timedelta(days=1), 24, "%m-%d %H:%M"),
    "month": Window("month", "Last 30 days", timedelta(days=30), 30, "%Y-%m-%d"),
}


@dataclass(frozen=True, slots=True)
class Overview:
    requests: int
    errors: int
    prompt_and_completion_tokens: int
    cost: float
    latency: tuple[float | None, float | None, float | None]
    ttft: tuple[float | None, float | None, float | None]
    labels: list[str]
    requests_per_bucket: list[float]
    errors_per_bucket: list[float]
    cost_per_bucket: list[float]
    tokens_per_bucket: list[float]
    sampled: bool


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def summarize(rows: Sequence[RequestTiming], window: Window, now: datetime, *, sampled: bool) -> Overview:
    start = now - window.span
    size = window.bucket
    labels = [(start + size * i).strftime(window.label_format) for i in range(window.buckets)]
    requests = [0.0] * window.buckets
    errors = [0.0] * window.buckets
    cost = [0.0] * window.buckets
    tokens = [0.0] * window.buckets
    latencies: list[float] = []
    ttfts: list[float] = []
    for row in rows:
        began = _utc(row.start_time)
        index = min(max(int((began - start) / size), 0), window.buckets - 1)
        requests[index] += 1
        cost[index] += row.spend
        tokens[index] += row.total_tokens
        if row.status == "failure":
            errors[index] += 1
        if row.end_time is not None:
            latencies.append((_utc(row.end_time) - began).total_seconds())
        if row.completion_start_time is not None:
            ttfts.append((_utc(row.completion_start_time) - began).total_seconds())
    return Overview(
        requests=len(rows),
        errors=int(sum(errors)),
        prompt_and_completion_tokens=int(sum(tokens)),
        cost=sum(cost),
        latency=(percentile(latencies, 50), percentile(latencies, 95), percentile(latencies, 99)),
        ttft=(percentile(ttfts, 50), percentile(ttfts, 95), percentile(ttfts, 99)),
        labels=labels,
        requests_per_bucket=requests,
        errors_per_bucket=errors,
        cost_per_bucket=cost,
        tokens_per_bucket=tokens,
        sampled=sampled,
    )
