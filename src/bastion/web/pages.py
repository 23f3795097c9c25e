"""The read-only pages: overview, recent requests, spend, users, model groups, billing.

Everything comes from the spend logs, the store and the router's in-process health; nothing shows
a prompt, a provider key or a whole key hash (keys appear as ``sk-...abcd`` or a hash prefix).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.accounting.attribution import spend_key_name
from bastion.administration import Administration, BillingFilter, SpendFilter
from bastion.administration.spend import SPEND_GROUPS
from bastion.domain.errors import BastionError
from bastion.gateway.router import Router
from bastion.web._html import Markup, e, link, money, table, when
from bastion.web.charts import bar_chart, ranking_chart
from bastion.web.dashboard import PageContext, Reply
from bastion.web.stats import WINDOWS, summarize

__all__ = ["ReadPages"]

_SAMPLE = 100_000
_RANGES = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "all": None,
}


class ReadPages:
    def __init__(
        self,
        admin: Administration,
        router: Router,
        *,
        billing: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._admin = admin
        self._router = router
        self._billing = billing
        self._clock = clock

    def pages(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/ui"): self.overview,
            ("GET", "/ui/requests"): self.requests,
            ("GET", "/ui/spend"): self.spend,
            ("GET", "/ui/users"): self.users,
            ("GET", "/ui/models"): self.models,
            ("GET", "/ui/billing"): self.billing,
        }

    async def overview(self, ctx: PageContext) -> Reply:
        window = WINDOWS.get(ctx.query.get("window", "day"), WINDOWS["day"])
        now = self._clock()
        rows = await self._admin.spend.timings(SpendFilter(start=now - window.span), limit=_SAMPLE)
        o = summarize(rows, window, now, sampled=len(rows) >= _SAMPLE)

        def secs(value: float | None) -> str:
            return "-" if value is None else f"{value * 1000:,.0f} ms"

        cards = [
            ("requests", "Requests", f"{o.requests:,}"),
            ("errors", "Errors", f"{o.errors:,}" + (f" ({o.errors / o.requests:.1%})" if o.requests else "")),
            ("latency", "Latency p50 / p95 / p99", " / ".join(secs(v) for v in o.latency)),
            ("ttft", "Time to first token p50 / p95 / p99", " / ".join(secs(v) for v in o.ttft)),
            ("tokens", "Tokens", f"{o.prompt_and_completion_tokens:,}"),
            ("cost", "Cost", money(o.cost)),
        ]
        tabs = "".join(link(f"/ui?window={w.name}", w.label, current=w is window) for w in WINDOWS.values())
        body = (
            f'<p class="tabs">{tabs}</p><div class="cards">'
            + "".join(
                f'<div class="card" id="card-{name}"><div class="label">{e(label)}</div>'
                f'<div class="value">{e(value) if name != "cost" else value}</div></div>'
                for name, label, value in cards
            )
            + "</div>"
            + (
                f'<p class="muted">Only the newest {_SAMPLE:,} requests of this window are counted.</p>'
                if o.sampled
                else ""
            )
            + '<div class="charts">'
            + bar_chart("Requests", o.labels, o.requests_per_bucket, chart_id="chart-requests")
            + bar_chart("Errors", o.labels, o.errors_per_bucket, chart_id="chart-errors")
            + bar_chart("Tokens", o.labels, o.tokens_per_bucket, chart_id="chart-tokens")
            + bar_chart("Cost (USD)", o.labels, o.cost_per_bucket, chart_id="chart-cost", fmt=money)
            + "</div>"
        )
        return ctx.render(f"Overview · {window.label}", body, current="/ui")

    async def requests(self, ctx: PageContext) -> Reply:
        logs = await self._admin.spend.logs(SpendFilter(), limit=100)
        names = await self._key_names({log.api_key for log in logs})
        rows = []
        for log in logs:
            latency = None if log.end_time is None else (log.end_time - log.start_time).total_seconds()
            ttft = (
                None
                if log.completion_start_time is None
                else (log.completion_start_time - log.start_time).total_seconds()
            )
            status = Markup(
                f'<span class="{"state-ok" if log.status == "success" else "state-bad"}">'
                f"{e(log.status)} {e(log.http_status or '')}</span>"
            )
            rows.append(
                [
                    Markup(when(log.start_time)),
                    Markup(f'<span class="request-id">{e(log.request_id)}</span>'),
                    names.get(log.api_key, "") if log.api_key else "none",
                    log.team_id,
                    log.user,
                    log.model_group,
                    log.model,
                    status,
                    f"{log.prompt_tokens:,} / {log.completion_tokens:,}",
                    Markup(money(log.spend)),
                    None if latency is None else f"{latency * 1000:,.0f} ms",
                    None if ttft is None else f"{ttft * 1000:,.0f} ms",
                    "yes" if log.cache_hit else "",
                ]
            )
        body = (
            '<p class="muted">The newest 100 requests (spend logs). '
            "Prompts and answers are never shown here.</p>"
            + table(
                [
                    "Time (UTC)",
                    "Request id",
                    "Key",
                    "Team",
                    "User",
                    "Model group",
                    "Model",
                    "Status",
                    "Tokens in / out",
                    "Cost",
                    "Latency",
                    "First token",
                    "Cached",
                ],
                rows,
                table_id="requests",
                empty="No requests yet.",
            )
        )
        return ctx.render("Recent requests", body, current="/ui/requests")

    async def spend(self, ctx: PageContext) -> Reply:
        by = ctx.query.get("by", "model")
        by = by if by in SPEND_GROUPS else "model"
        span = ctx.query.get("range", "day")
        span = span if span in _RANGES else "day"
        now = self._clock()
        start = _date(ctx.query.get("start"))
        end = _date(ctx.query.get("end"))
        if start is None and _RANGES[span] is not None:
            start = now - _RANGES[span]  # type: ignore[operator]
        where = SpendFilter(start=start, end=None if end is None else end + timedelta(days=1))
        groups = await self._admin.spend.by(by, where)
        names = await self._key_names({g.group for g in groups if g.group}) if by == "key" else {}

        def label(name: str | None) -> str:
            if name is None or name == "":
                return "(none)"
            return names.get(name, name) if by == "key" else name

        chart = ranking_chart(
            f"Spend by {by} (USD)",
            [(label(g.group), g.spend) for g in groups],
            chart_id="chart-spend",
            fmt=money,
        )
        counts = ranking_chart(
            f"Requests by {by}",
            [(label(g.group), float(g.requests)) for g in groups],
            chart_id="chart-spend-requests",
        )
        by_links = " ".join(link(f"/ui/spend?by={k}&range={span}", k, current=k == by) for k in SPEND_GROUPS)
        range_links = " ".join(
            link(f"/ui/spend?by={by}&range={r}", r, current=r == span and not ctx.query.get("start"))
            for r in _RANGES
        )
        form = (
            '<form method="get" action="/ui/spend" class="tabs">'
            f'<input type="hidden" name="by" value="{e(by)}">'
            f'From <input type="date" name="start" value="{e(ctx.query.get("start", ""))}"> '
            f'to <input type="date" name="end" value="{e(ctx.query.get("end", ""))}"> '
            '<button type="submit" class="plain">Show</button></form>'
        )
        body = (
            f'<p class="tabs">Group by: {by_links}</p><p class="tabs">Range: {range_links}</p>{form}'
            + f'<div class="charts">{chart}{counts}</div><h2>Totals</h2>'
            + table(
                [by.capitalize(), "Requests", "Errors", "Tokens", "Spend"],
                (
                    [
                        label(g.group),
                        f"{g.requests:,}",
                        f"{g.errors:,}",
                        f"{g.total_tokens:,}",
                        Markup(money(g.spend)),
                    ]
                    for g in groups
                ),
                table_id="spend",
                empty="No requests in this range.",
            )
        )
        return ctx.render("Spend", body, current="/ui/spend")

    async def users(self, ctx: PageContext) -> Reply:
        found = await self._admin.users.page(page=1, size=100)
        rows = (
            [
                u.user_id,
                u.user_email,
                u.user_role,
                ", ".join(u.teams),
                Markup(
                    money(u.spend)
                    + " / "
                    + (money(u.max_budget) if u.max_budget is not None else "no budget")
                ),
                "superuser" if u.is_superuser else "",
                "active" if u.is_active else "deactivated",
            ]
            for u in found.items
        )
        body = table(
            ["User", "Email", "Role", "Teams", "Spend / budget", "Superuser", "State"],
            rows,
            table_id="users",
            empty="No users yet.",
        )
        return ctx.render(f"Users ({found.total_count})", body, current="/ui/users")

    async def models(self, ctx: PageContext) -> Reply:
        health = self._router.health
        rows = []
        for group in self._router.names:
            for dep in self._router.group(group):
                cooling = health.cooling(dep.deployment_id)
                left = health.cooldown_left(dep.deployment_id)
                latency = health.latency(dep.deployment_id)
                used = health.usage(dep.deployment_id)
                state = Markup(
                    f'<span class="state-bad">cooling down ({left:.0f} s left)</span>'
                    if cooling
                    else '<span class="state-ok">healthy</span>'
                )
                rows.append(
                    [
                        group,
                        dep.deployment_id[:12],
                        f"{dep.provider_alias}/{dep.model}",
                        dep.api_base,
                        dep.weight,
                        state,
                        None if latency is None else f"{latency * 1000:,.0f} ms",
                        f"{used[0]} req, {used[1]:,} tok",
                        _limits(dep.rpm, dep.tpm),
                    ]
                )
        body = (
            '<p class="muted">Health as this gateway process sees it '
            "(shared through Redis when configured).</p>"
            + table(
                [
                    "Model group",
                    "Deployment",
                    "Upstream model",
                    "Base URL",
                    "Weight",
                    "Health",
                    "Latency (avg)",
                    "This minute",
                    "Limits",
                ],
                rows,
                table_id="models",
                empty="No models configured.",
            )
        )
        return ctx.render("Model groups", body, current="/ui/models")

    async def billing(self, ctx: PageContext) -> Reply:
        if not self._billing:
            body = '<p class="muted">Billing is not configured (billing_settings).</p>'
            return ctx.render("Billing outbox", body, current="/ui/billing")
        status = ctx.query.get("status") or None
        try:
            data = await self._admin.billing.status(BillingFilter(status=status), limit=100)
        except BastionError as err:
            body = f'<div class="error" id="error">{e(err.message)}</div>'
            return ctx.render("Billing outbox", body, current="/ui/billing", status=err.status)
        totals = table(
            ["Team", "Events", "Cost", "Amount"],
            (
                [t["team_id"], t["events"], Markup(money(t["cost"])), Markup(money(t["amount"]))]
                for t in data["totals"]
            ),
            table_id="billing-totals",
            empty="No billing events.",
        )
        events = table(
            [
                "Id",
                "Request",
                "Team",
                "Model group",
                "Amount",
                "Status",
                "Attempts",
                "Last error",
                "Occurred",
            ],
            (
                [
                    ev["id"],
                    ev["request_id"],
                    ev["team_id"],
                    ev["model_group"],
                    Markup(money(ev["amount"])),
                    ev["status"],
                    ev["attempts"],
                    ev["last_error"],
                    ev["occurred_at"],
                ]
                for ev in data["events"]
            ),
            table_id="billing-events",
            empty="No events.",
        )
        body = (
            "<p>Spend logs not yet billed: "
            f'<strong id="unbilled">{data["unbilled_spend_logs"]:,}</strong></p>'
            f"<h2>Totals</h2>{totals}<h2>Newest events</h2>{events}"
        )
        return ctx.render("Billing outbox", body, current="/ui/billing")

    async def _key_names(self, tokens: Iterable[str]) -> dict[str, str]:
        """``sk-...abcd`` (and the alias) of each key hash, or the hash's first characters."""
        wanted = [token for token in list(tokens)[:200] if token]
        found = await self._admin.keys.by_tokens(wanted)
        names: dict[str, str] = {}
        for token in wanted:
            if (named := spend_key_name(token)) is not None:  # the master key or a static key
                names[token] = named
                continue
            record = found.get(token)
            if record is None:
                names[token] = f"{token[:12]}…"
            else:
                names[token] = (
                    f"{record.key_alias} ({record.key_name})" if record.key_alias else record.key_name
                )
        return names


def _limits(rpm: int | None, tpm: int | None) -> str:
    parts = [f"rpm {rpm}" if rpm is not None else "", f"tpm {tpm}" if tpm is not None else ""]
    return ", ".join(p for p in parts if p) or "none"


def _date(value: str | None) -> datetime | None:
    """A ``YYYY-MM-DD`` of the spend page's range; ``None`` for anything else (and for the last
    day of the calendar, whose end could not be written)."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day if day < datetime.max.replace(tzinfo=UTC) - timedelta(days=1) else None
