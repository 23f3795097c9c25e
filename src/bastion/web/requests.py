"""The requests page: the spend logs, newest first, filtered by key, team, user, model group,
status and time, a page at a time, with the reason each failed request failed.

Prompts and answers are never stored, so never shown: a row is who, what, when, how it ended and
what it cost. The reason of a failure is its kind (``timeout``, ``rate_limit``...) and HTTP status
as the gateway recorded them, in words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bastion.administration import Administration, SpendLogRecord
from bastion.web._html import Markup, e, money, table, when
from bastion.web.dashboard import PageContext, Reply
from bastion.web.filters import Filters
from bastion.web.key_labels import KeyLabel, key_labels
from bastion.web.keys import page_number

__all__ = ["PAGE_SIZE", "RequestPages", "failure_reason"]

PAGE_SIZE = 50
#: What each kind of error means, for the operator reading the page.
_REASONS = {
    "invalid_request": "the request was invalid",
    "authentication": "a credential was refused",
    "permission": "not allowed",
    "not_found": "not found",
    "request_too_large": "the request was too large",
    "rate_limit": "rate limited",
    "billing": "refused by billing or a budget",
    "api_error": "the provider or the gateway failed",
    "overloaded": "overloaded",
    "timeout": "the provider did not answer in time",
}


def failure_reason(log: SpendLogRecord) -> str | None:
    """Why the request failed (or was cut short): ``timeout: the provider did not answer in time
    (HTTP 504)``; ``None`` for a request that went well."""
    parts: list[str] = []
    if log.status == "failure":
        kind = log.metadata.get("error_kind") if isinstance(log.metadata, Mapping) else None
        kind = kind if isinstance(kind, str) else None
        words = _REASONS.get(kind or "", "failed")
        parts.append(f"{kind}: {words}" if kind else words)
        if log.http_status is not None:
            parts[-1] += f" (HTTP {log.http_status})"
    if log.client_disconnected:
        parts.append("the client disconnected")
    return "; ".join(parts) or None


class RequestPages:
    def __init__(
        self, admin: Administration, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._admin = admin
        self._clock = clock

    def pages(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/ui/requests"): self.requests}

    async def requests(self, ctx: PageContext) -> Reply:
        filters = Filters.read(ctx.query, default_range="all")
        page_no = page_number(ctx.query.get("page"))
        where = await filters.where(self._admin.keys, self._clock())
        found = await self._admin.spend.logs(where, limit=PAGE_SIZE + 1, offset=(page_no - 1) * PAGE_SIZE)
        logs, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
        names = await key_labels(self._admin.keys, (log.api_key for log in logs))
        rows = [_row(log, names.get(log.api_key), filters) for log in logs]
        pager = []
        if page_no > 1:
            pager.append(
                f'<a href="/ui/requests?{e(filters.query(page=page_no - 1))}" id="newer">&larr; newer</a>'
            )
        if more:
            pager.append(
                f'<a href="/ui/requests?{e(filters.query(page=page_no + 1))}" id="older">older &rarr;</a>'
            )
        first = (page_no - 1) * PAGE_SIZE + 1
        shown = f"requests {first:,} to {first + len(logs) - 1:,}" if logs else "no requests"
        body = (
            filters.form("/ui/requests")
            + f'<p class="muted" id="showing">Showing {shown}, newest first ({e(filters.describe())}). '
            "Prompts and answers are never stored or shown.</p>"
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
                    "Error",
                    "Tokens in / out",
                    "Cost",
                    "Latency",
                    "First token",
                    "Cached",
                ],
                rows,
                table_id="requests",
                empty="No requests match." if filters.query() != "range=all" else "No requests yet.",
            )
            + f'<p class="tabs pager">Page {page_no} {" ".join(pager)}</p>'
        )
        return ctx.render("Requests", body, current="/ui/requests")


def _row(log: SpendLogRecord, name: KeyLabel | None, filters: Filters) -> list[object]:
    latency = None if log.end_time is None else (log.end_time - log.start_time).total_seconds()
    ttft = (
        None
        if log.completion_start_time is None
        else (log.completion_start_time - log.start_time).total_seconds()
    )
    ok = log.status == "success"
    status = Markup(
        f'<span class="{"state-ok" if ok else "state-bad"}">{e(log.status)} {e(log.http_status or "")}</span>'
    )

    def narrowed(field: str, value: str | None, shown: str | None = None) -> object:
        """The cell as a link to the same page filtered by its value."""
        if not value:
            return shown if shown is not None else value
        href = "/ui/requests?" + filters.but(**{field: value}).query()
        return Markup(f'<a href="{e(href)}" class="narrow">{e(shown or value)}</a>')

    if not log.api_key:
        key: object = "none"
    elif name is None or not name.ref:
        key = name.label if name is not None else log.api_key[:12] + "…"
    else:
        key = narrowed("key", name.ref, name.label)
    reason = failure_reason(log)
    return [
        Markup(when(log.start_time)),
        Markup(f'<span class="request-id">{e(log.request_id)}</span>'),
        key,
        narrowed("team", log.team_id),
        narrowed("user", log.user),
        narrowed("model", log.model_group),
        log.model,
        status,
        Markup(f'<span class="error-reason">{e(reason)}</span>') if reason else "",
        f"{log.prompt_tokens:,} / {log.completion_tokens:,}",
        Markup(money(log.spend)),
        None if latency is None else f"{latency * 1000:,.0f} ms",
        None if ttft is None else f"{ttft * 1000:,.0f} ms",
        "yes" if log.cache_hit else "",
    ]
