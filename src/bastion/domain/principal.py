"""Who is calling, and the limits that come with them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ANONYMOUS", "Principal", "ScopeLimits"]


@dataclass(frozen=True, slots=True)
class ScopeLimits:
    """The limits one scope puts on a request; ``None`` means unlimited.

    ``scope`` is ``<kind>:<id>``: ``key:<hash>``, ``team:<id>``, ``user:<id>``, ``end_user:<id>``.
    """

    scope: str
    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None
    max_budget: float | None = None
    budget_duration: str | None = None

    @property
    def limits_rate(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.parallel is not None


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``kind`` is ``master``, ``static_key``, ``virtual_key`` or ``jwt`` (an end user vouched for by
    an identity provider's token; ``user_id`` is the token's user and ``key_hash`` is empty).
    ``label`` is safe to log: a key alias, the ``sk-...abcd`` name, the first characters of the
    key's hash or an end user's id, never a key or a token.
    ``models`` empty means every model.
    """

    kind: str
    label: str
    key_hash: str
    models: frozenset[str] = frozenset()
    team_id: str | None = None
    user_id: str | None = None
    #: Unix time after which the key no longer works.
    expires: float | None = None
    limits: tuple[ScopeLimits, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: The key's team's metadata (team-wide settings such as ``cache``).
    team_metadata: Mapping[str, Any] = field(default_factory=dict)
    #: The end user this caller is (a JWT's user, a browser token's ``user``), whom plans apply to.
    end_user: str | None = None
    #: The plan the credential names (a JWT's ``plan_claim``); ``None``: the end user's own or the
    #: default plan (see :mod:`bastion.gateway.plans`).
    plan: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "master"

    def may_use(self, model_group: str) -> bool:
        return not self.models or model_group in self.models


#: The caller before authentication, and every caller of a gateway configured with no keys at all.
ANONYMOUS = Principal("anonymous", "anonymous", "")
