"""Model groups and the order in which their deployments are tried.

Deployments with the lowest LiteLLM ``order`` are tried first (unnumbered ones last). Among those,
``simple-shuffle`` (LiteLLM's default) picks by weight; ``least-busy`` picks the deployment with the
fewest requests in flight. Deployments that already failed for this request are avoided while
others remain. Fallback groups come after the group's own deployments.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from bastion.domain.errors import ModelNotFoundError
from bastion.settings import Deployment, Settings

__all__ = ["Router", "wildcard_part"]


class Router:
    def __init__(self, settings: Settings) -> None:
        self._groups: dict[str, tuple[Deployment, ...]] = dict(settings.model_groups)
        self._aliases = _short_names(self._groups)
        #: LiteLLM wildcard groups (``openai/*``, ``*``), tried in config order after exact names.
        self._wildcards = [name for name in self._groups if name.count("*") == 1]
        self._fallbacks = {k: tuple(v) for k, v in settings.fallbacks.items()}
        self._least_busy = settings.routing_strategy == "least-busy"
        self.in_flight: dict[str, int] = {}
        self.names = list(self._groups)

    def resolve(self, name: str) -> str:
        """The group a requested model name means: the name itself, or a group's short name.

        OpenCode sends ``claude-sonnet-4-5`` for a group configured as ``anthropic/claude-sonnet-4-5``
        (it strips its own provider prefix), so each ``provider/name`` group also answers to ``name``
        when no other group claims it.
        """
        if name in self._groups:
            return name
        alias = self._aliases.get(name)
        if alias is not None:
            return alias
        for pattern in self._wildcards:
            if wildcard_part(pattern, name) is not None:
                return pattern
        raise ModelNotFoundError(name, self.names)

    def group(self, name: str) -> tuple[Deployment, ...]:
        deployments = self._groups.get(name)
        if deployments is None:
            raise ModelNotFoundError(name, self.names)
        return deployments

    def chain(self, name: str) -> list[str]:
        """The group, then its fallback groups in order."""
        return [name, *(g for g in self._fallbacks.get(name, ()) if g in self._groups and g != name)]

    def pick(self, deployments: Sequence[Deployment], exclude: set[str] | None = None) -> Deployment:
        candidates = [d for d in deployments if not exclude or d.deployment_id not in exclude] or list(
            deployments
        )
        if len(candidates) == 1:
            return candidates[0]
        first = min(_rank(d) for d in candidates)
        candidates = [d for d in candidates if _rank(d) == first]
        if len(candidates) == 1:
            return candidates[0]
        if self._least_busy:
            return min(candidates, key=lambda d: self.in_flight.get(d.deployment_id, 0))
        weights = [d.weight for d in candidates]
        if not any(weights):  # all weights 0: nothing to prefer
            return random.choice(candidates)
        return random.choices(candidates, weights=weights)[0]


_UNORDERED = 1 << 30


def _rank(dep: Deployment) -> int:
    return dep.order if dep.order is not None else _UNORDERED


def _short_names(groups: dict[str, tuple[Deployment, ...]]) -> dict[str, str]:
    seen: dict[str, list[str]] = {}
    for name in groups:
        _, slash, short = name.partition("/")
        if slash and short and short not in groups:
            seen.setdefault(short, []).append(name)
    return {short: names[0] for short, names in seen.items() if len(names) == 1}


def wildcard_part(pattern: str, name: str) -> str | None:
    """What the ``*`` of ``pattern`` stands for in ``name``, or None when it does not match."""
    prefix, _, suffix = pattern.partition("*")
    if len(name) > len(prefix) + len(suffix) and name.startswith(prefix) and name.endswith(suffix):
        return name[len(prefix) : len(name) - len(suffix)]
    return None
