"""Reading ``bastion_settings.plans``: named tiers of limits end users, keys and teams are put on.

Each plan is a mapping under its name (``free: {max_tokens_per_period: 100000, quota_duration:
1mo}``); an empty one (``pro: {}``) is unlimited. Model groups a plan names (``models``, both sides
of ``model_aliases``) are checked against ``model_list``, and a quota sentence against the
placeholders it may use, so a typo stops the start with file, line and key path.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import TYPE_CHECKING

from bastion.domain.plans import Plan, quota_message_problem
from bastion.settings._known_keys import PLAN_KEYS
from bastion.settings._reader import MapReader

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bastion.settings._sections import GroupNames

__all__ = ["PLAN_ID", "read_plans"]

_DURATION = re.compile(r"(\d+)(mo|[smhdw])")
#: What a plan's name may be: it is a URL query value, a JWT claim value and a label of /metrics.
PLAN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def read_plans(section: MapReader, groups: GroupNames) -> Mapping[str, Plan]:
    """The ``plans`` mapping under ``bastion_settings`` (``section``); empty when absent."""
    plans = section.mapping("plans")
    if plans is None:
        return MappingProxyType({})
    found: dict[str, Plan] = {}
    for name in plans.data:
        if not isinstance(name, str) or not PLAN_ID.fullmatch(name):
            raise plans.at(str(name)).error(
                "a plan's name must be 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a "
                "letter or digit"
            )
        found[name] = _plan(name, MapReader.of(plans.get(name), plans.at(name)), groups)
    return MappingProxyType(found)


def _plan(name: str, plan: MapReader, groups: GroupNames) -> Plan:
    plan.reject_unknown(PLAN_KEYS)
    budget_duration = _duration(plan, "budget_duration", needs="max_budget")
    quota_duration = _duration(plan, "quota_duration", needs="max_tokens_per_period")
    models = plan.string_items("models") or []
    for where, model in models:
        groups.check(model, where)
    aliases = _aliases(plan, groups)
    message = plan.string("quota_message")
    if message is not None:
        problem = quota_message_problem(message)
        if problem is not None:
            raise plan.at("quota_message").error(problem)
    count_cache_reads = plan.boolean("count_cache_reads")
    return Plan(
        plan_id=name,
        rpm_limit=plan.integer("rpm_limit"),
        tpm_limit=plan.integer("tpm_limit"),
        max_parallel_requests=plan.integer("max_parallel_requests"),
        max_budget=plan.number("max_budget"),
        budget_duration=budget_duration,
        max_tokens_per_period=plan.integer("max_tokens_per_period"),
        quota_duration=quota_duration,
        count_cache_reads=True if count_cache_reads is None else count_cache_reads,
        models=tuple(dict.fromkeys(model for _, model in models)),
        model_aliases=MappingProxyType(aliases),
        quota_message=message,
        source="config",
    )


def _aliases(plan: MapReader, groups: GroupNames) -> dict[str, str]:
    """``model_aliases``: a requested model group -> the group that serves it; both in model_list."""
    aliases = plan.mapping("model_aliases")
    if aliases is None:
        return {}
    found: dict[str, str] = {}
    for requested in aliases.data:
        served = aliases.string(str(requested))
        if not isinstance(requested, str) or not requested or not served:
            raise aliases.at(str(requested)).error(
                "maps a model group to the model group that serves it (claude-sonnet: claude-haiku)"
            )
        groups.check(requested, aliases.at(requested))
        groups.check(served, aliases.at(requested))
        found[requested] = served
    return found


def _duration(plan: MapReader, key: str, *, needs: str) -> str | None:
    duration = plan.string(key)
    if duration is None:
        return None
    found = _DURATION.fullmatch(duration.strip())
    if found is None or int(found.group(1)) == 0:
        raise plan.at(key).error(
            "must be a whole number followed by s, m, h, d, w or mo, e.g. '30d' or '1mo'"
        )
    if plan.get(needs) is None:
        raise plan.at(key).error(f"needs a {needs} to reset")
    return duration.strip()
