"""Which plan a caller is on: the plans themselves and who is on which, cached in this process.

An end user (a JWT's user, a browser token's ``user``, or a request's ``user`` field when that id
is a customer of ``/customer/new``) is on, first to last:

1. the plan their ``/customer/*`` row names (the operator's word wins);
2. the plan their token's ``plan_claim`` names;
3. ``bastion_settings.default_plan`` (end users with a token only: a key's ``user`` field alone
   never puts a caller on the default plan).

A name that is no plan (deleted, mistyped in a token) falls through to the next. A blocked
customer is refused (403) whatever their plan.

Plans of the config never change while the process runs; those of ``/budget/new`` and the
customer rows are read from the database once and kept until :meth:`PlanDirectory.invalidate`:
the administration services call it in this process and publish it to the others (Redis pub/sub),
so a change applies to the next request everywhere. The hot path costs a dict lookup; the first
request of an end user after a change, one database read; and none at all while there is no
customer row (a key's ``user`` field then names nobody with a plan or a block: one probe of the
table, kept until the next change, answers for every new value).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bastion.domain.errors import PermissionDeniedError
from bastion.domain.plans import Plan
from bastion.domain.principal import Principal
from bastion.outbound.clients import OutboundClients
from bastion.settings import Settings
from bastion.store.database import Database
from bastion.store.plans import plan_from_record

__all__ = ["PLANS_CHANNEL", "EndUserPlan", "Member", "PlanDirectory", "plan_directory_of", "plan_notices"]

#: The Redis channel on which a process tells the others that plans or customers changed.
PLANS_CHANNEL = "bastion:plans"

_log = logging.getLogger("bastion.plans")

#: An end user's row: the plan it names (``None``: none) and whether they are blocked.
EndUserPlan = tuple[str | None, bool]
#: At most this many end users are remembered; beyond it the cache starts again.
_MAX_MEMBERS = 100_000


@dataclass(frozen=True, slots=True)
class Member:
    """A caller on a plan: ``scope`` is what their limits and quota are counted under."""

    plan: Plan
    #: The end user on the plan; ``None`` when a key or a team carries it.
    end_user: str | None
    #: ``end_user:<id>`` for callers with a token (logged under ``user``), ``customer:<id>`` for a
    #: key's ``user`` field (logged under ``end_user``), ``key:<hash>`` or ``team:<id>`` for a key
    #: or a team that carries a plan (``metadata.plan``).
    scope: str

    @property
    def shares_scope(self) -> bool:
        """Whether the plan's limits are the member's own (end users) or come on top of a key's or
        team's own limits (under ``plan:<scope>``)."""
        return self.end_user is None


class PlanDirectory:
    """``load_plans()`` reads the plans of ``/budget/new``; ``load_end_user(id)`` an end user's row."""

    def __init__(
        self,
        configured: Mapping[str, Plan],
        *,
        default_plan: str | None,
        load_plans: Callable[[], Awaitable[list[Plan]]],
        load_end_user: Callable[[str], Awaitable[EndUserPlan | None]],
        any_end_user: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """``any_end_user``: whether any end-user row exists (None: always assume some do)."""
        self._configured = dict(configured)
        self._default = default_plan
        self._load_plans = load_plans
        self._load_end_user = load_end_user
        self._any_end_user = any_end_user
        #: Whether any end-user row exists (None: not known; read again after every change).
        self._customers: bool | None = None
        self._stored: dict[str, Plan] | None = None
        self._loading = asyncio.Lock()
        #: End user -> their row (``None``: no row); dropped on every change.
        self._members: dict[str, EndUserPlan | None] = {}
        #: Bumped by every invalidation: a read that started before it is not kept.
        self._version = 0

    def invalidate(self, _notice: str | None = None) -> None:
        """Plans or customers changed somewhere: read them again before they are next used."""
        self._version += 1
        self._stored = None
        self._customers = None
        self._members.clear()

    async def plan(self, name: str) -> Plan | None:
        configured = self._configured.get(name)
        if configured is not None:
            return configured
        try:
            stored = await self._plans()
        except Exception:  # the database is down: the config's plans still apply
            _log.warning("could not read the plans of /budget/new; trying again on the next request")
            return None
        return stored.get(name)

    async def member(self, principal: Principal, body_user: object) -> Member | None:
        """The plan ``principal`` calls under, or ``None``; raises 403 for a blocked end user."""
        end_user = principal.end_user
        scope_kind = "end_user"
        if end_user is None and isinstance(body_user, str) and body_user and len(body_user) <= 255:
            end_user, scope_kind = body_user, "customer"
        if end_user is not None:
            row = await self._row(end_user)
            if row is not None and row[1]:
                raise PermissionDeniedError(
                    "This end user is blocked on this gateway.", code="end_user_blocked", param="user"
                )
            names = [row[0] if row is not None else None]
            if scope_kind == "end_user":
                names += [principal.plan, self._default]
            for name in names:
                plan = await self._named(name)
                if plan is not None:
                    return Member(plan, end_user, f"{scope_kind}:{end_user}")
            if scope_kind == "end_user":
                return None
        # A key's own plan, else its team's (``metadata.plan``): the key (team) is the member.
        if principal.key_hash:
            plan = await self._named(principal.metadata.get("plan"))
            if plan is not None:
                return Member(plan, None, f"key:{principal.key_hash}")
        if principal.team_id is not None:
            plan = await self._named(principal.team_metadata.get("plan"))
            if plan is not None:
                return Member(plan, None, f"team:{principal.team_id}")
        return None

    async def _named(self, name: object) -> Plan | None:
        if not isinstance(name, str) or not name:
            return None
        plan = await self.plan(name)
        if plan is None:
            _log.warning("plan %r named for a caller does not exist; ignored", name[:64])
        return plan

    async def _plans(self) -> dict[str, Plan]:
        stored = self._stored
        if stored is not None:
            return stored
        async with self._loading:  # one read for every request waiting on it
            stored = self._stored
            if stored is not None:
                return stored
            version = self._version
            found = {plan.plan_id: plan for plan in await self._load_plans()}
            if self._version == version:
                self._stored = found
            return found

    async def _row(self, end_user: str) -> EndUserPlan | None:
        members = self._members
        if end_user in members:
            return members[end_user]
        version = self._version
        try:
            if not await self._some_customers():
                return None  # no row to find: no read per new end user
            row = await self._load_end_user(end_user)
        except Exception:  # the database is down: the token's plan or the default applies
            _log.warning("could not read an end user's plan; trying again on their next request")
            return None
        if self._version == version:
            if len(members) >= _MAX_MEMBERS:
                members.clear()
            members[end_user] = row
        return row

    async def _some_customers(self) -> bool:
        """Whether end-user rows exist (read once, then kept until :meth:`invalidate`)."""
        known = self._customers
        if known is not None:
            return known
        if self._any_end_user is None:
            return True
        async with self._loading:  # one read for every request waiting on it
            known = self._customers
            if known is not None:
                return known
            version = self._version
            found = await self._any_end_user()
            if self._version == version:
                self._customers = found
            return found


def plan_directory_of(settings: Settings, database: Database) -> PlanDirectory:
    """The directory of a gateway: the config's plans, those of the database, its customers."""

    async def load_plans() -> list[Plan]:
        return [plan_from_record(record) for record in await database.plans.all()]

    async def load_end_user(end_user: str) -> EndUserPlan | None:
        row = await database.end_users.get(end_user)
        return None if row is None else (row.budget_id, row.blocked)

    return PlanDirectory(
        settings.bastion.plans,
        default_plan=settings.bastion.default_plan,
        load_plans=load_plans,
        load_end_user=load_end_user,
        any_end_user=database.end_users.any,
    )


def plan_notices(directory: PlanDirectory, clients: OutboundClients) -> Callable[[], Awaitable[None]]:
    """What the administration services call after a change: this process forgets at once, the
    others when the notice reaches them (Redis pub/sub; a lost connection makes them forget all)."""

    async def notify() -> None:
        directory.invalidate()
        if clients.redis is not None:
            try:
                await clients.redis.execute("PUBLISH", PLANS_CHANNEL, "changed")
            except Exception:  # committed already: the others see it when their cache is dropped
                _log.exception("could not tell the other processes that plans changed")

    return notify
