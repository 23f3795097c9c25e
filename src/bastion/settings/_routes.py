"""Reading ``bastion_settings.routes``: rules that send a requested model group elsewhere."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import TYPE_CHECKING

from bastion.settings._known_keys import ROUTE_RULE_KEYS, ROUTE_WHEN_KEYS
from bastion.settings._reader import ListReader, MapReader, describe
from bastion.settings._where import Where
from bastion.settings.model import RouteRule

if TYPE_CHECKING:
    from bastion.settings._sections import GroupNames

__all__ = ["read_routes"]

_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def read_routes(entries: ListReader | None, groups: GroupNames) -> tuple[RouteRule, ...]:
    if entries is None:
        return ()
    rules: list[RouteRule] = []
    for n, (where, raw) in enumerate(entries):
        entry = MapReader.of(raw, where)
        entry.reject_unknown(ROUTE_RULE_KEYS)
        name = entry.string("name") or f"route-{n + 1}"
        if any(rule.name == name for rule in rules):
            raise entry.at("name").error(f"two routes are named '{name}'")
        to = entry.require_string("to")
        groups.check(to, entry.at("to"))
        models = _strings(entry, "model")
        for model in models:
            groups.check(model, entry.at("model"))
        when = MapReader.of(entry.get("when"), entry.at("when"))
        when.reject_unknown(ROUTE_WHEN_KEYS)
        headers = when.string_map("header") or {}
        rules.append(
            RouteRule(
                name=name,
                to=to,
                models=models,
                prompt_tokens_above=when.integer("prompt_tokens_above"),
                prompt_tokens_below=when.integer("prompt_tokens_below", minimum=1),
                tools=when.boolean("tools"),
                images=when.boolean("images"),
                tags=_strings(when, "tag"),
                headers=MappingProxyType({k.lower(): v for k, v in headers.items()}),
                teams=_strings(when, "team"),
                time=_time(when.string("time"), when.at("time")),
            )
        )
    return tuple(rules)


def _strings(section: MapReader, key: str) -> tuple[str, ...]:
    """One string or a list of them."""
    value = section.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        if not value:
            raise section.at(key).error("must not be empty")
        return (str(value),)
    if not isinstance(value, list):
        raise section.at(key).error(f"must be a string or a list of strings, got {describe(value)}")
    return section.strings(key) or ()


def _time(value: str | None, where: Where) -> tuple[int, int] | None:
    """``"22:00-06:00"`` (UTC) as minutes after midnight."""
    if value is None:
        return None
    match = _TIME.match(value)
    if match is None:
        raise where.error(f"must be a UTC time window like '22:00-06:00', got '{value}'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise where.error(f"'{value}' is not a valid time window")
    return h1 * 60 + m1, h2 * 60 + m2
