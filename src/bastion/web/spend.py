"""The spend page and its CSV: spend, requests and errors over time and in total, grouped by key,
team, user or model group, with the requests page's filters (key, team, user, model, status, time).

Buckets are UTC hours for a range of up to two days, else UTC days. ``/ui/spend.csv`` answers the
same filters with one row per bucket and group (RFC 4180, UTF-8; a text cell that a spreadsheet
would run as a formula is prefixed with ``'``), named after what it holds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.administration import Administration, GroupedSpend, TimedSpend
from bastion.administration.spend import SPEND_GROUPS
from bastion.web._html import Markup, e, link, money, table
from bastion.web.charts import bar_chart, ranking_chart
from bastion.web.dashboard import PageContext, Reply
from bastion.web.filters import Filters
from bastion.web.key_labels import key_labels

__all__ = ["SpendPages", "csv_text"]

#: Rows of (bucket, group) read at most; beyond, the page and the CSV say they were cut.
_MAX_ROWS = 100_000
#: Buckets drawn at most (the newest); a longer range is cut to these.
_MAX_BUCKETS = 400
#: Groups drawn over time one by one (the costliest).
_SMALL_MULTIPLES = 4
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class _Spend:
    filters: Filters
    by: str
    bucket: str
    buckets: list[str]
    totals: list[GroupedSpend]
    series: list[TimedSpend]
    labels: dict[str | None, str]
    refs: dict[str | None, str]
    start: datetime | None
    end: datetime
    cut: bool


class SpendPages:
    def __init__(
        self, admin: Administration, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._admin = admin
        self._clock = clock

    def pages(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/ui/spend"): self.spend, ("GET", "/ui/spend.csv"): self.spend_csv}

    async def _read(self, ctx: PageContext) -> _Spend:
        filters = Filters.read(ctx.query, default_range="day")
        by = ctx.query.get("by", "model")
        by = by if by in SPEND_GROUPS else "model"
        now = self._clock()
        start, end = filters.span(now)
        end = min(end or now, now)
        bucket = "hour" if start is not None and end - start <= timedelta(days=2) else "day"
        where = await filters.where(self._admin.keys, now)
        totals = await self._admin.spend.by(by, where)
        series = await self._admin.spend.over_time(by, where, bucket=bucket, limit=_MAX_ROWS)
        names: dict[str | None, str] = {}
        refs: dict[str | None, str] = {}
        if by == "key":
            tokens = [g.group for g in totals if g.group] + [t.group for t in series if t.group]
            found = await key_labels(self._admin.keys, tokens)
            names = {token: label.label for token, label in found.items()}
            refs = {token: label.ref for token, label in found.items()}
        first = start or (_bucket_time(series[0].bucket) if series else end)
        buckets = _buckets(first, end, bucket)
        cut = len(series) >= _MAX_ROWS or len(buckets) > _MAX_BUCKETS
        return _Spend(
            filters, by, bucket, buckets[-_MAX_BUCKETS:], totals, series, names, refs, start, end, cut
        )

    async def spend(self, ctx: PageContext) -> Reply:
        data = await self._read(ctx)
        filters, by = data.filters, data.by

        def label(group: str | None) -> str:
            if not group:
                return "(none)"
            return data.labels.get(group, group)

        per_bucket: dict[str, list[float]] = {b: [0.0, 0.0, 0.0] for b in data.buckets}
        per_group: dict[str | None, dict[str, float]] = {}
        for row in data.series:
            if row.bucket in per_bucket:
                sums = per_bucket[row.bucket]
                sums[0] += row.spend
                sums[1] += row.requests
                sums[2] += row.errors
                per_group.setdefault(row.group, {})[row.bucket] = row.spend
        ticks = [_tick(b) for b in data.buckets]
        unit = "UTC " + ("hours" if data.bucket == "hour" else "days")
        over_time = bar_chart(
            "Spend over time (USD)",
            ticks,
            [per_bucket[b][0] for b in data.buckets],
            chart_id="chart-spend-time",
            fmt=money,
            axis=unit,
        ) + bar_chart(
            "Requests over time",
            ticks,
            [per_bucket[b][1] for b in data.buckets],
            chart_id="chart-requests-time",
            axis=unit,
        )
        multiples = "".join(
            bar_chart(
                f"Spend of {label(g.group)} (USD)",
                ticks,
                [per_group.get(g.group, {}).get(b, 0.0) for b in data.buckets],
                chart_id=f"chart-spend-time-{i}",
                fmt=money,
                axis=unit,
            )
            for i, g in enumerate(data.totals[:_SMALL_MULTIPLES])
        )
        ranking = ranking_chart(
            f"Spend by {by} (USD)",
            [(label(g.group), g.spend) for g in data.totals],
            chart_id="chart-spend",
            fmt=money,
        ) + ranking_chart(
            f"Requests by {by}",
            [(label(g.group), float(g.requests)) for g in data.totals],
            chart_id="chart-spend-requests",
        )
        by_links = " ".join(
            link(f"/ui/spend?{filters.query(by=k)}", k, current=k == by) for k in SPEND_GROUPS
        )
        csv_href = f"/ui/spend.csv?{filters.query(by=by)}"
        body = (
            f'<p class="tabs" id="group-by">Group by: {by_links}</p>'
            + filters.form("/ui/spend", hidden={"by": by})
            + f'<p class="muted">Spend {e(filters.describe())}, per {e(unit)}. '
            f'<a href="{e(csv_href)}" id="csv" download>Download CSV</a></p>'
            + (
                '<p class="muted" id="cut">The range is long: only its newest part is drawn; '
                "narrow the dates to see it all.</p>"
                if data.cut
                else ""
            )
            + f'<div class="charts">{over_time}</div>'
            + (f'<h2>Over time, per {e(by)}</h2><div class="charts">{multiples}</div>' if multiples else "")
            + f'<h2>Totals per {e(by)}</h2><div class="charts">{ranking}</div>'
            + table(
                [by.capitalize(), "Requests", "Errors", "Tokens", "Spend"],
                (
                    [
                        _narrow(filters, by, g.group, label(g.group), data.refs),
                        f"{g.requests:,}",
                        f"{g.errors:,}",
                        f"{g.total_tokens:,}",
                        Markup(money(g.spend)),
                    ]
                    for g in data.totals
                ),
                table_id="spend",
                empty="No requests in this range.",
            )
        )
        return ctx.render("Spend", body, current="/ui/spend")

    async def spend_csv(self, ctx: PageContext) -> Reply:
        data = await self._read(ctx)
        by = data.by
        header = ["period_start_utc", by]
        if by == "key":
            header.append("key_ref")
        header += ["requests", "errors", "total_tokens", "spend_usd"]
        rows: list[list[object]] = []
        for row in data.series:
            line: list[object] = [_period(row.bucket), data.labels.get(row.group, row.group or "")]
            if by == "key":
                line.append(data.refs.get(row.group, ""))
            line += [row.requests, row.errors, row.total_tokens, f"{row.spend:.10f}".rstrip("0").rstrip(".")]
            rows.append(line)
        since = "all" if data.start is None else data.start.strftime("%Y%m%d")
        name = f"bastion-spend-by-{by}-{since}-{data.end:%Y%m%d}.csv"
        return Reply(csv_text(header, rows).encode(), content_type=b"text/csv; charset=utf-8", filename=name)


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """RFC 4180 CSV: quoted as needed, CRLF line ends; text a spreadsheet would take for a
    formula (``=``, ``+``, ``-``, ``@``...) is prefixed with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            ["'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA) else cell for cell in row]
        )
    return out.getvalue()


def _narrow(filters: Filters, by: str, group: str | None, shown: str, refs: dict[str | None, str]) -> object:
    """A total's name as a link to the requests page filtered by it."""
    field = {"team": "team", "user": "user", "key": "key", "model": "model"}[by]
    value = refs.get(group, "") if by == "key" else (group or "")
    if not value:
        return shown
    href = "/ui/requests?" + filters.but(**{field: value}).query()
    return Markup(f'<a href="{e(href)}" class="narrow">{e(shown)}</a>')


def _bucket_time(bucket: str) -> datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH`` (UTC) as the moment it starts."""
    pattern = "%Y-%m-%d %H" if len(bucket) > 10 else "%Y-%m-%d"
    return datetime.strptime(bucket, pattern).replace(tzinfo=UTC)


def _buckets(start: datetime, end: datetime, size: str) -> list[str]:
    """Every bucket from the one holding ``start`` to the one holding ``end``, oldest first."""
    step = timedelta(hours=1) if size == "hour" else timedelta(days=1)
    start = start.astimezone(UTC)
    at = start.replace(minute=0, second=0, microsecond=0)
    if size == "day":
        at = at.replace(hour=0)
    found: list[str] = []
    limit = _MAX_BUCKETS * 30  # a guard: "all" over decades is cut by the caller
    while at <= end and len(found) < limit:
        found.append(at.strftime("%Y-%m-%d %H" if size == "hour" else "%Y-%m-%d"))
        at += step
    return found


def _tick(bucket: str) -> str:
    """How a bucket is written under the time axis: ``2026-12-07`` or ``12-07 14:00``."""
    return f"{bucket[5:10]} {bucket[11:13]}:00" if len(bucket) > 10 else bucket


def _period(bucket: str) -> str:
    """A bucket's start in ISO 8601: ``2026-12-07`` or ``2026-12-07T14:00Z``."""
    return f"{bucket[:10]}T{bucket[11:13]}:00Z" if len(bucket) > 10 else bucket
