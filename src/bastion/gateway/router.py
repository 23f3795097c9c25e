"""Model groups and the order in which their deployments are tried.

Deployments cooling down after failures (:mod:`bastion.gateway.health`) and those that already
failed for this request are avoided while others remain. Then the lowest LiteLLM ``order`` goes
first (unnumbered ones last), and among those the ``routing_strategy`` picks:

* ``simple-shuffle`` (LiteLLM's default): at random, by ``weight``;
* ``least-busy``: the fewest requests in flight (in this process);
* ``latency-based-routing``: the lowest average latency; a deployment not yet measured first, and
  any within ``routing_strategy_args.lowest_latency_buffer`` (a fraction) of the best at random;
* ``usage-based-routing`` (and ``-v2``): the lowest share of its ``tpm`` (else ``rpm``) used this
  minute, preferring deployments still under both limits.

Fallback groups come after the group's own deployments.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from bastion.domain.errors import ModelNotFoundError
from bastion.gateway.health import DeploymentHealth
from bastion.settings import Deployment, Settings

__all__ = ["Router", "wildcard_part"]


class Router:
    def __init__(self, settings: Settings) -> None:
        self._groups: dict[str, tuple[Deployment, ...]] = dict(settings.model_groups)
        self._aliases = _short_names(self._groups)
        #: LiteLLM wildcard groups (``openai/*``, ``*``), tried in config order after exact names.
        self._wildcards = [name for name in self._groups if name.count("*") == 1]
        self._fallbacks = {k: tuple(v) for k, v in settings.fallbacks.items()}
        self._strategy = settings.routing_strategy
        self._least_busy = self._strategy == "least-busy"
        self._buffer = settings.lowest_latency_buffer
        self.in_flight: dict[str, int] = {}
        self.health = DeploymentHealth(
            allowed_fails=settings.allowed_fails,
            cooldown_time=settings.cooldown_time,
            cooldowns=settings.router.get("disable_cooldowns") is not True,
        )
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

    def all_cooling(self, deployments: Sequence[Deployment]) -> bool:
        """Every deployment of the group is cooling down (the request should fall back)."""
        return all(self.health.cooling(d.deployment_id) for d in deployments)

    def pick(self, deployments: Sequence[Deployment], exclude: set[str] | None = None) -> Deployment:
        health = self.health
        candidates = (
            [
                d
                for d in deployments
                if not (exclude and d.deployment_id in exclude) and not health.cooling(d.deployment_id)
            ]
            or [d for d in deployments if not exclude or d.deployment_id not in exclude]
            or list(deployments)
        )
        if len(candidates) == 1:
            return self._chosen(candidates[0])
        first = min(_rank(d) for d in candidates)
        candidates = [d for d in candidates if _rank(d) == first]
        if len(candidates) == 1:
            return self._chosen(candidates[0])
        strategy = self._strategy
        if self._least_busy:
            return min(candidates, key=lambda d: self.in_flight.get(d.deployment_id, 0))
        if strategy == "latency-based-routing":
            return self._fastest(candidates)
        if strategy.startswith("usage-based-routing"):
            return self._chosen(min(candidates, key=self._load))
        weights = [d.weight for d in candidates]
        if not any(weights):  # all weights 0: nothing to prefer
            return random.choice(candidates)
        return random.choices(candidates, weights=weights)[0]

    def _chosen(self, dep: Deployment) -> Deployment:
        if self._strategy.startswith("usage-based-routing"):
            self.health.used(dep.deployment_id, requests=1)
        return dep

    def _fastest(self, candidates: Sequence[Deployment]) -> Deployment:
        measured = [(self.health.latency(d.deployment_id), d) for d in candidates]
        unmeasured = [d for latency, d in measured if latency is None]
        if unmeasured:
            return random.choice(unmeasured)
        best = min(latency for latency, _ in measured if latency is not None)
        limit = best * (1 + self._buffer)
        return random.choice([d for latency, d in measured if latency is not None and latency <= limit])

    def _load(self, dep: Deployment) -> tuple[int, float]:
        """(over a limit?, share of the tpm, else rpm, used this minute)."""
        requests, tokens = self.health.usage(dep.deployment_id)
        over = (dep.rpm is not None and requests >= dep.rpm) or (dep.tpm is not None and tokens >= dep.tpm)
        if dep.tpm:
            share = tokens / dep.tpm
        elif dep.rpm:
            share = requests / dep.rpm
        else:
            share = float(requests)
        return int(over), share


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
