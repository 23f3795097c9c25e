"""The LiteLLM-compatible management API: keys, teams, users, spend logs and model info.

:class:`ManagementApi` builds the handlers; the composition root merges :meth:`ManagementApi.routes`
into the gateway's route table and sends paths no fixed route matches through
:meth:`ManagementApi.find` (for ``POST /key/{key}/regenerate``). Every route needs the master key
except ``GET /key/info``, where a virtual key may read its own row. Errors are OpenAI-shaped
(``{"error": {"message", "type", "param", "code"}}``), as LiteLLM's are.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import unquote

from bastion.administration import Administration
from bastion.administration.key_fields import IGNORED_LITELLM_KEY_FIELDS
from bastion.api.asgi import Request
from bastion.api.management._common import Authenticate, Handler, Management
from bastion.api.management.billing import BillingEndpoints
from bastion.api.management.keys import KeyEndpoints
from bastion.api.management.models import ModelEndpoints, ModelInfo
from bastion.api.management.spend import SpendEndpoints
from bastion.api.management.teams import TeamEndpoints
from bastion.api.management.users import UserEndpoints
from bastion.domain.principal import Principal

__all__ = ["IGNORED_LITELLM_KEY_FIELDS", "Handler", "ManagementApi"]

_REGENERATE_PREFIX = "/key/"
_REGENERATE_SUFFIX = "/regenerate"


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
        self._m = Management(admin, authenticate, body_limit=body_limit)
        self.keys = KeyEndpoints(self._m)
        self.teams = TeamEndpoints(self._m)
        self.users = UserEndpoints(self._m)
        self.spend = SpendEndpoints(self._m)
        self.models = ModelEndpoints(model_info)
        self.billing = BillingEndpoints(self._m)

    def routes(self) -> dict[str, dict[str, Handler]]:
        """method -> path -> handler, for the fixed paths."""
        guard = self._m.handler
        model_info = guard(self.models.info)
        return {
            "POST": {
                "/key/generate": guard(self.keys.generate),
                "/key/update": guard(self.keys.update),
                "/key/delete": guard(self.keys.delete),
                "/key/regenerate": guard(self.keys.regenerate),
                "/key/block": guard(self.keys.block),
                "/key/unblock": guard(self.keys.unblock),
                "/team/new": guard(self.teams.new),
                "/team/update": guard(self.teams.update),
                "/team/delete": guard(self.teams.delete),
                "/user/new": guard(self.users.new),
                "/user/update": guard(self.users.update),
                "/user/delete": guard(self.users.delete),
                "/billing/events/retry": guard(self.billing.retry),
                "/billing/events/cancel": guard(self.billing.cancel),
            },
            "GET": {
                "/key/info": guard(self.keys.info, admin_only=False),
                "/key/list": guard(self.keys.list_keys),
                "/team/info": guard(self.teams.info),
                "/team/list": guard(self.teams.list_teams),
                "/user/info": guard(self.users.info),
                "/user/list": guard(self.users.list_users),
                "/spend/logs": guard(self.spend.logs),
                "/billing/events": guard(self.billing.events),
                "/model/info": model_info,
                "/v1/model/info": model_info,
            },
        }

    def find(self, method: str, path: str) -> Handler | None:
        """The handler of a path with a parameter in it (``POST /key/{key}/regenerate``), if any."""
        if method == "POST" and path.startswith(_REGENERATE_PREFIX) and path.endswith(_REGENERATE_SUFFIX):
            key = unquote(path[len(_REGENERATE_PREFIX) : -len(_REGENERATE_SUFFIX)])
            if key and "/" not in key:
                return self._m.handler(partial(self._regenerate_path, key))
        return None

    async def _regenerate_path(self, key: str, request: Request, principal: Principal) -> Any:
        return await self.keys.regenerate(request, principal, key)
