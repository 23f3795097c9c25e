"""The read-only pages: overview, users, model groups, billing (requests and spend have their own
modules).

Everything comes from the spend logs, the store and the router's in-process health; nothing shows
a prompt, a provider key or a whole key hash (keys appear as ``sk-...abcd`` or a hash prefix).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.administration import Administration, BillingFilter, SpendFilter
from bastion.domain.errors import BastionError
from bastion.gateway.router import Router
from bastion.web._html import Markup, e, link, money, table
from bastion.web.charts import bar_chart
from bastion.web.dashboard import PageContext, Reply
from bastion.web.stats import WINDOWS, summarize

__all__ = ["ReadPages"]

_SAMPLE = 100_000


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
        since = self._clock() - timedelta(days=1)
        counted = await self._admin.spend.by_deployment(SpendFilter(start=since))
        rows = []
        for group in self._router.names:
            for dep in self._router.group(group):
                cooling = health.cooling(dep.deployment_id)
                left = health.cooldown_left(dep.deployment_id)
                latency = health.latency(dep.deployment_id)
                _, tokens = health.usage(dep.deployment_id)
                served = counted.get(dep.deployment_id)
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
                        Markup(f'<span class="served">{served.requests if served else 0:,}</span>'),
                        f"{served.errors if served else 0:,}",
                        f"{tokens:,} tok",
                        _limits(dep.rpm, dep.tpm),
                    ]
                )
        body = (
            '<p class="muted">Requests and errors: every request a deployment answered in the last 24 '
            "hours, from the spend logs of every gateway process (a retried request counts where it "
            "ended; a cache hit counts nowhere). Health, latency and this minute's tokens: as this "
            "process sees them (shared through Redis when configured).</p>"
            + table(
                [
                    "Model group",
                    "Deployment",
                    "Upstream model",
                    "Base URL",
                    "Weight",
                    "Health",
                    "Latency (avg)",
                    "Requests (24 h)",
                    "Errors (24 h)",
                    "Tokens this minute",
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


def _limits(rpm: int | None, tpm: int | None) -> str:
    parts = [f"rpm {rpm}" if rpm is not None else "", f"tpm {tpm}" if tpm is not None else ""]
    return ", ".join(p for p in parts if p) or "none"
