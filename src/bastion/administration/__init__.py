"""The one service layer for administration: keys, teams, users, budgets, spend queries, billing
events and dashboard sessions.

The management API (``/key/*``, ``/team/*``, ``/user/*``, ``/budget/*``, ``/customer/*``,
``/spend/*``, ``/billing/*``), the admin
dashboard (``/ui``) and the CLI (``bastion keys|teams|users|spend|billing``) call these services
and nothing below them (an import-linter contract keeps them off the store), so the three accept
and refuse exactly the same input, check it against what both database backends can store, and
announce every change of a key to every gateway process the same way.

The composition root builds one :class:`Administration` with the revocation callbacks of the
limits layer; the CLI opens one over the configured database (:mod:`bastion.administration.offline`).
Services take request fields as a JSON-like mapping; the dashboard's forms and the CLI's options
become that mapping through :func:`~bastion.administration.text_input.body_from_text`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo

from bastion.administration.announce import Announcer, Revoke
from bastion.administration.billing import BillingAdmin
from bastion.administration.budgets import Budgets
from bastion.administration.end_users import EndUserService
from bastion.administration.keys import KeyService
from bastion.administration.plans import Notify, PlanService
from bastion.administration.records import (
    BillingFilter,
    GroupedSpend,
    KeyRecord,
    Page,
    RequestTiming,
    SpendFilter,
    SpendLogRecord,
    TeamRecord,
    TimedSpend,
    UserRecord,
)
from bastion.administration.sessions import SessionRevocations
from bastion.administration.spend import SpendService
from bastion.administration.teams import TeamService
from bastion.administration.users import UserService
from bastion.domain.plans import Plan
from bastion.domain.principal import Principal
from bastion.store.database import Database

__all__ = [
    "Administration",
    "Announcer",
    "BillingAdmin",
    "BillingFilter",
    "Budgets",
    "EndUserService",
    "GroupedSpend",
    "KeyRecord",
    "KeyService",
    "Page",
    "PlanService",
    "RequestTiming",
    "Revoke",
    "SessionRevocations",
    "SpendFilter",
    "SpendLogRecord",
    "SpendService",
    "TeamRecord",
    "TeamService",
    "TimedSpend",
    "UserRecord",
    "UserService",
    "actor",
]


def actor(principal: Principal) -> str:
    """Who made a change, for ``created_by``/``updated_by``: a user id or a safe label."""
    return principal.user_id or principal.label


class Administration:
    """Every administration service over one database.

    ``announce`` tells the gateway processes which keys changed, ``notify_plans`` that plans or
    end users changed; ``plans`` are those of ``bastion_settings.plans``; ``clock`` and
    ``budget_tz`` say when "now" is and which calendar budget periods reset on.
    """

    def __init__(
        self,
        database: Database,
        *,
        announce: Announcer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        budget_tz: tzinfo = UTC,
        plans: Mapping[str, Plan] | None = None,
        notify_plans: Notify | None = None,
    ) -> None:
        announce = announce or Announcer()
        self.budgets = Budgets(clock=clock, budget_tz=budget_tz)
        self.keys = KeyService(database, announce, self.budgets, clock=clock)
        self.teams = TeamService(database, announce, self.budgets, self.keys)
        self.users = UserService(database, announce, self.budgets, self.keys, self.teams)
        self.spend = SpendService(database, clock=clock)
        self.billing = BillingAdmin(database)
        self.sessions = SessionRevocations(database)
        if notify_plans is None:
            self.plans = PlanService(database, configured=plans)
            self.end_users = EndUserService(database, self.plans)
        else:
            self.plans = PlanService(database, configured=plans, notify=notify_plans)
            self.end_users = EndUserService(database, self.plans, notify=notify_plans)
