"""The filters of the requests and spend pages (and the spend CSV): read from the query string,
shown back in a form, carried by every link, and turned into the services' spend filter.

A key is named the way the pages show it: its alias, the first 16 characters of its hash (the
links the pages make), ``master key``, or a static key's label. A filter no row could match
(a key that does not exist) matches nothing; it never falls back to "everything".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from bastion.accounting.attribution import MASTER_KEY_ALIAS
from bastion.administration import KeyService, SpendFilter
from bastion.administration.keys import REF_LENGTH
from bastion.administration.spend import SPEND_STATUSES
from bastion.domain.errors import BastionError
from bastion.web._html import Markup, e

__all__ = ["RANGES", "Filters", "parse_day"]

#: The ranges a page offers, and how far back each reaches (``None``: all time).
RANGES: Mapping[str, timedelta | None] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "all": None,
}
_HEX = frozenset("0123456789abcdef")
#: Longest filter text kept (longer matches no row: every column is shorter).
_MAX = 256


@dataclass(frozen=True, slots=True)
class Filters:
    """What a page is filtered by, as the text of its query string (empty: not filtered)."""

    key: str = ""
    team: str = ""
    user: str = ""
    model: str = ""
    status: str = ""
    range: str = "day"
    start: str = ""
    end: str = ""

    @classmethod
    def read(cls, query: Mapping[str, str], *, default_range: str = "day") -> Filters:
        def text(name: str) -> str:
            return str(query.get(name, "") or "").strip()[:_MAX]

        span = text("range")
        status = text("status")
        return cls(
            key=text("key"),
            team=text("team"),
            user=text("user"),
            model=text("model"),
            status=status if status in SPEND_STATUSES else "",
            range=span if span in RANGES else default_range,
            start=text("start") if parse_day(text("start")) else "",
            end=text("end") if parse_day(text("end")) else "",
        )

    def query(self, **extra: object) -> str:
        """The query string of these filters (and ``extra``), without empty values."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({name: "" if value is None else str(value) for name, value in extra.items()})
        return urlencode({name: value for name, value in values.items() if value})

    def but(self, **changes: str) -> Filters:
        return replace(self, **changes)

    def span(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """``(start, end)``: the dates given (the end day included), else the range back from now."""
        start, end = parse_day(self.start), parse_day(self.end)
        if start is None and end is None:
            back = RANGES[self.range]
            return (None if back is None else now - back), None
        return start, None if end is None else end + timedelta(days=1)

    async def where(self, keys: KeyService, now: datetime) -> SpendFilter:
        """The spend filter these name; a key that does not exist names no row."""
        start, end = self.span(now)
        return SpendFilter(
            api_key=await _api_key(keys, self.key) if self.key else None,
            team_id=self.team or None,
            user=self.user or None,
            model_group=self.model or None,
            status=self.status or None,
            start=start,
            end=end,
        )

    def form(self, action: str, *, hidden: Mapping[str, str] | None = None) -> Markup:
        """The filter form: key, team, user, model, status, range or dates."""

        def box(name: str, label: str, hint: str) -> str:
            return (
                f'<label>{e(label)}<input type="text" name="{name}" id="filter-{name}" '
                f'value="{e(getattr(self, name))}" placeholder="{e(hint)}"></label>'
            )

        statuses = "".join(
            f'<option value="{value}"{" selected" if self.status == value else ""}>{label}</option>'
            for value, label in (("", "any"), ("success", "success"), ("failure", "failure"))
        )
        ranges = "".join(
            f'<option value="{name}"{" selected" if self.range == name else ""}>{name}</option>'
            for name in RANGES
        )
        kept = "".join(
            f'<input type="hidden" name="{e(name)}" value="{e(value)}">'
            for name, value in (hidden or {}).items()
        )
        return Markup(
            f'<form method="get" action="{e(action)}" class="filters" id="filters">{kept}'
            + box("key", "Key", "alias, hash prefix or label")
            + box("team", "Team", "team id")
            + box("user", "User", "user id")
            + box("model", "Model group", "model group")
            + f'<label>Status<select name="status" id="filter-status">{statuses}</select></label>'
            + f'<label>Range<select name="range" id="filter-range">{ranges}</select></label>'
            + _date_box("start", "From (UTC)", self.start)
            + _date_box("end", "To (UTC)", self.end)
            + '<button type="submit" class="plain" id="apply-filters">Filter</button>'
            + f'<a href="{e(action)}" id="clear-filters">Clear</a></form>'
        )

    def describe(self) -> str:
        """The filters in words, for a page's caption (``key ci-bot, status failure, last day``)."""
        parts = [
            f"{name} {value}"
            for name, value in (
                ("key", self.key),
                ("team", self.team),
                ("user", self.user),
                ("model", self.model),
                ("status", self.status),
            )
            if value
        ]
        if self.start or self.end:
            parts.append(f"from {self.start or 'the start'} to {self.end or 'now'}")
        else:
            parts.append("all time" if self.range == "all" else f"the last {self.range}")
        return ", ".join(parts)


def _date_box(name: str, label: str, value: str) -> str:
    return f'<label>{label}<input type="date" name="{name}" id="filter-{name}" value="{e(value)}"></label>'


def parse_day(value: str | None) -> datetime | None:
    """A ``YYYY-MM-DD`` as the start of that UTC day; ``None`` for anything else (and for days at
    the calendar's end, whose next day could not be written)."""
    if not value or len(value) != 10:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day if day < datetime.max.replace(tzinfo=UTC) - timedelta(days=2) else None


async def _api_key(keys: KeyService, text: str) -> str:
    """The spend logs' ``api_key`` a page's key filter names (see the module's docstring)."""
    if text.lower() in ("master key", MASTER_KEY_ALIAS):
        return MASTER_KEY_ALIAS
    lowered = text.lower()
    if REF_LENGTH <= len(lowered) <= 64 and set(lowered) <= _HEX:
        try:
            return (await keys.find_by_ref(lowered)).token
        except BastionError:
            pass
    try:
        return (await keys.find_by_alias(text)).token
    except BastionError:
        return text  # a static key's label (or nothing: then no row matches)
