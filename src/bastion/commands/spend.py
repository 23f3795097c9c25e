"""``bastion spend``: cost, requests and tokens grouped by team, user, key or model, as a table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bastion.accounting.attribution import spend_key_name
from bastion.administration import GroupedSpend, SpendFilter
from bastion.administration.offline import Offline, offline
from bastion.commands.tables import money, table
from bastion.limits.durations import parse_duration
from bastion.settings import Settings

__all__ = ["show_spend"]


def show_spend(settings: Settings, options: dict[str, Any], *, now: datetime | None = None) -> int:
    group = options["by"]
    start = _since(options.get("since"), now or datetime.now(UTC))
    where = SpendFilter(team_id=options.get("team_id"), model_group=options.get("model"), start=start)

    async def fetch(services: Offline) -> tuple[list[GroupedSpend], dict[str, str]]:
        rows = await services.admin.spend.by(group, where, limit=options["limit"])
        names: dict[str, str] = {}
        if group == "key":  # spend logs hold the key's hash: show its alias or masked name instead
            keys = await services.admin.keys.by_tokens([row.group for row in rows if row.group])
            names = {token: key.key_alias or key.key_name for token, key in keys.items()}
        return rows, names

    rows, names = offline(settings, fetch)
    period = f"since {start:%Y-%m-%d %H:%M} UTC" if start else "all time"
    if not rows:
        print(f"no spend ({period})")
        return 0
    body = [
        [
            _label(r.group, group, names),
            str(r.requests),
            str(r.prompt_tokens),
            str(r.completion_tokens),
            money(r.spend),
        ]
        for r in rows
    ]
    total = [
        "total",
        *(str(sum(int(row[i]) for row in body)) for i in (1, 2, 3)),
        money(sum(r.spend for r in rows)),
    ]
    print(f"spend by {group}, {period}")
    print("\n".join(table([group, "requests", "input tokens", "output tokens", "spend USD"], [*body, total])))
    return 0


def _label(value: str | None, group: str, names: dict[str, str]) -> str:
    if value is None or value == "":
        return "(none)"
    if group == "key":  # the master key, a static key's label, else a key's name, never the hash itself
        return spend_key_name(value) or names.get(value, "(deleted key)")
    return value


def _since(text: str | None, now: datetime) -> datetime | None:
    """``--since 24h`` / ``7d`` / ``1mo``: that long before now; ``all`` or none: no start."""
    if text is None or text == "all":
        return None
    duration = parse_duration(text)  # a friendly error for anything else
    return now - (duration.after(now) - now)
