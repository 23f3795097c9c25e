"""The LiteLLM-compatible management API: keys, teams, users, spend logs and model info.

:class:`ManagementApi` builds the handlers and lists them with :meth:`ManagementApi.endpoints`
for the gateway's route table. Every route needs the master key except ``GET /key/info``, where
any key may read (a virtual key only its own row): :meth:`ManagementApi.guards` gives those two
audiences' guards. Errors are OpenAI-shaped (``{"error": {"message", "type", "param", "code"}}``),
as LiteLLM's are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bastion.administration import Administration
from bastion.administration.key_fields import IGNORED_LITELLM_KEY_FIELDS
from bastion.api.asgi import Request, Send, send_json
from bastion.api.endpoints import KEY_HOLDER, MASTER, Audience, Endpoint, Guard
from bastion.api.error_formats import OPENAI_ERRORS
from bastion.api.guards import master_guard
from bastion.api.management import _bodies as bodies
from bastion.api.management._common import Authenticate, Handler, Management, Work
from bastion.api.management.billing import BillingEndpoints
from bastion.api.management.keys import KeyEndpoints
from bastion.api.management.models import ModelEndpoints, ModelInfo
from bastion.api.management.plans import CustomerEndpoints, PlanEndpoints
from bastion.api.management.spend import SpendEndpoints
from bastion.api.management.teams import TeamEndpoints
from bastion.api.management.users import UserEndpoints
from bastion.domain.principal import Principal

__all__ = ["IGNORED_LITELLM_KEY_FIELDS", "Handler", "ManagementApi"]


class ManagementApi:
    """The management routes over the administration services.

    ``authenticate`` raises :class:`~bastion.domain.errors.AuthenticationError` (401) for a bad
    key. ``model_info()`` is what ``/model/info`` lists. Validation, revocation and every other
    rule of keys, teams, users, spend and billing are the services' (``admin``), which the
    dashboard and the CLI call too.
    """

    def __init__(
        self,
        admin: Administration,
        authenticate: Authenticate,
        model_info: ModelInfo,
        body_limit: int,
    ) -> None:
        self._authenticate = authenticate
        self._m = Management(admin, body_limit=body_limit)
        self.keys = KeyEndpoints(self._m)
        self.teams = TeamEndpoints(self._m)
        self.users = UserEndpoints(self._m)
        self.spend = SpendEndpoints(self._m)
        self.models = ModelEndpoints(model_info)
        self.billing = BillingEndpoints(self._m)
        self.plans = PlanEndpoints(self._m)
        self.customers = CustomerEndpoints(self._m)

    def guards(self) -> Mapping[Audience, Guard]:
        """The management audiences: the master key, and any key (``GET /key/info``)."""
        return {MASTER: master_guard(self._authenticate), KEY_HOLDER: self._authenticate}

    def endpoints(self) -> list[Endpoint]:
        """Every management route: LiteLLM's paths, methods and bodies."""

        def route(method: str, path: str, work: Work, summary: str, **options: Any) -> Endpoint:
            options.setdefault("audience", MASTER)
            return Endpoint(
                method, path, _json(work), errors=OPENAI_ERRORS, summary=summary, tag="management", **options
            )

        model_info = self.models.info
        k, t, u = self.keys, self.teams, self.users
        return [
            route("POST", "/key/generate", k.generate, "Create a virtual key", body=bodies.KEY_GENERATE),
            route("POST", "/key/update", k.update, "Change a key", body=bodies.KEY_UPDATE),
            route("POST", "/key/delete", k.delete, "Delete keys", body=bodies.KEY_DELETE),
            route(
                "POST", "/key/regenerate", k.regenerate, "Replace a key's value", body=bodies.KEY_REGENERATE
            ),
            route(
                "POST",
                "/key/{key}/regenerate",
                self._regenerate_path,
                "Replace the value of the key in the path",
                body=bodies.KEY_REGENERATE,
            ),
            route("POST", "/key/block", k.block, "Block a key", body=bodies.KEY_REF),
            route("POST", "/key/unblock", k.unblock, "Unblock a key", body=bodies.KEY_REF),
            route(
                "GET",
                "/key/info",
                k.info,
                "One key (a virtual key may read its own)",
                audience=KEY_HOLDER,
                query=("key",),
            ),
            route("GET", "/key/list", k.list_keys, "Keys, by page", query=bodies.KEY_LIST_QUERY),
            route("POST", "/team/new", t.new, "Create a team", body=bodies.TEAM_NEW),
            route("POST", "/team/update", t.update, "Change a team", body=bodies.TEAM_UPDATE),
            route("POST", "/team/delete", t.delete, "Delete teams", body=bodies.TEAM_DELETE),
            route("GET", "/team/info", t.info, "One team", query=("team_id",)),
            route("GET", "/team/list", t.list_teams, "Every team"),
            route("POST", "/user/new", u.new, "Create a user", body=bodies.USER_NEW),
            route("POST", "/user/update", u.update, "Change a user", body=bodies.USER_UPDATE),
            route("POST", "/user/delete", u.delete, "Delete users", body=bodies.USER_DELETE),
            route("GET", "/user/info", u.info, "One user", query=("user_id",)),
            route("GET", "/user/list", u.list_users, "Users, by page", query=("page", "page_size")),
            *self._plan_routes(route),
            route("GET", "/spend/logs", self.spend.logs, "Spend log rows", query=bodies.SPEND_LOGS_QUERY),
            route(
                "GET",
                "/billing/events",
                self.billing.events,
                "Billing events",
                query=bodies.BILLING_EVENTS_QUERY,
            ),
            route(
                "POST",
                "/billing/events/retry",
                self.billing.retry,
                "Retry failed billing events",
                body=bodies.BILLING_EVENT_IDS,
            ),
            route(
                "POST",
                "/billing/events/cancel",
                self.billing.cancel,
                "Cancel billing events",
                body=bodies.BILLING_EVENT_IDS,
            ),
            route("GET", "/model/info", model_info, "The deployments, without credentials"),
            route("GET", "/v1/model/info", model_info, "The deployments, without credentials"),
        ]

    def _plan_routes(self, route: Callable[..., Endpoint]) -> list[Endpoint]:
        """``/budget/*`` (plans) and ``/customer/*`` with its older name ``/end_user/*``."""
        p, c = self.plans, self.customers
        routes = [
            route("POST", "/budget/new", p.new, "Create a plan", body=bodies.BUDGET_NEW),
            route("POST", "/budget/update", p.update, "Change a plan", body=bodies.BUDGET_UPDATE),
            route("POST", "/budget/info", p.info, "The named plans", body=bodies.PLAN_NAMES),
            route("GET", "/budget/info", p.settings, "One plan", query=("budget_id",)),
            route("GET", "/budget/list", p.list_plans, "Every plan, with member counts"),
            route("POST", "/budget/delete", p.delete, "Delete plans", body=bodies.BUDGET_DELETE),
        ]
        for prefix in ("/customer", "/end_user"):
            routes += [
                route("POST", f"{prefix}/new", c.new, "Put an end user on a plan", body=bodies.CUSTOMER_NEW),
                route(
                    "POST", f"{prefix}/update", c.update, "Change an end user", body=bodies.CUSTOMER_UPDATE
                ),
                route("GET", f"{prefix}/info", c.info, "One end user", query=("end_user_id",)),
                route("GET", f"{prefix}/list", c.list_end_users, "Every end user"),
                route("POST", f"{prefix}/delete", c.delete, "Delete end users", body=bodies.CUSTOMER_IDS),
                route("POST", f"{prefix}/block", c.block, "Block end users", body=bodies.CUSTOMER_IDS),
                route("POST", f"{prefix}/unblock", c.unblock, "Unblock end users", body=bodies.CUSTOMER_IDS),
            ]
        return routes

    async def _regenerate_path(self, request: Request, principal: Principal) -> Any:
        return await self.keys.regenerate(request, principal, request.params["key"])


def _json(work: Work) -> Handler:
    """``work(request, principal)``'s answer as a 200 JSON response (the guard ran first)."""

    async def handle(request: Request, send: Send) -> None:
        await send_json(send, 200, await work(request, request.caller))

    return handle
