"""The account API (``/v2``): people log in, keep their provider keys, list models, chat, see usage.

:data:`ROUTES` lists every route with who may call it (``anonymous``, ``user``, ``superuser``);
the permission test walks it. The composition root merges :meth:`AccountApi.routes` (fixed
paths) into the gateway's table and asks :meth:`AccountApi.find` for paths with an id in them.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import unquote

from bastion.api.account._room import AccountServices, Handler, Room, Work, send_error
from bastion.api.account.billing import BillingEndpoints
from bastion.api.account.chat import ChatEndpoints
from bastion.api.account.keys import KeyEndpoints
from bastion.api.account.login import LoginEndpoints
from bastion.api.account.models import ModelEndpoints
from bastion.api.account.users import UserEndpoints
from bastion.api.asgi import Request, Send
from bastion.domain.errors import NotFoundError

__all__ = ["ROUTES", "AccountApi", "AccountServices"]

#: (method, path template, audience): every route of the account API.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/v2/login/access-token", "anonymous"),
    ("GET", "/v2/users/me", "user"),
    ("PATCH", "/v2/users/me/password", "user"),
    ("GET", "/v2/users/me/api-key-status", "user"),
    ("PATCH", "/v2/users/me/api-key", "user"),
    ("DELETE", "/v2/users/me/api-key", "user"),
    ("GET", "/v2/users", "superuser"),
    ("POST", "/v2/users", "superuser"),
    ("GET", "/v2/users/{user_id}", "superuser"),
    ("PATCH", "/v2/users/{user_id}", "superuser"),
    ("DELETE", "/v2/users/{user_id}", "superuser"),
    ("GET", "/v2/llm-models", "user"),
    ("POST", "/v2/llm/chat/completions", "user"),
    ("POST", "/v2/llm/chat/completions/stream", "user"),
    ("GET", "/v2/llm/conversations", "user"),
    ("GET", "/v2/llm/conversations/{conversation_id}", "user"),
    ("GET", "/v2/billing/usage/my-usage", "user"),
    ("GET", "/v2/billing/usage/users", "superuser"),
    ("GET", "/v2/admin/llm-keys", "superuser"),
    ("PUT", "/v2/admin/llm-keys/{provider}", "superuser"),
    ("POST", "/v2/admin/llm-keys/{provider}/rotate", "superuser"),
    ("DELETE", "/v2/admin/llm-keys/{provider}", "superuser"),
)


class AccountApi:
    def __init__(self, services: AccountServices) -> None:
        self._room = room = Room(services)
        login, users, keys = LoginEndpoints(room), UserEndpoints(room), KeyEndpoints(room)
        models, chat, billing = ModelEndpoints(room), ChatEndpoints(room), BillingEndpoints(room)
        self._chat = chat
        self._work: dict[tuple[str, str], Work] = {
            ("POST", "/v2/login/access-token"): login.access_token,
            ("GET", "/v2/users/me"): users.me,
            ("PATCH", "/v2/users/me/password"): users.change_password,
            ("GET", "/v2/users/me/api-key-status"): keys.status,
            ("PATCH", "/v2/users/me/api-key"): keys.set_keys,
            ("DELETE", "/v2/users/me/api-key"): keys.delete_keys,
            ("GET", "/v2/users"): users.list_users,
            ("POST", "/v2/users"): users.create,
            ("GET", "/v2/users/{user_id}"): users.get,
            ("PATCH", "/v2/users/{user_id}"): users.update,
            ("DELETE", "/v2/users/{user_id}"): users.deactivate,
            ("GET", "/v2/llm-models"): models.list_models,
            ("POST", "/v2/llm/chat/completions"): chat.complete,
            ("GET", "/v2/llm/conversations"): chat.list_conversations,
            ("GET", "/v2/llm/conversations/{conversation_id}"): chat.get_conversation,
            ("GET", "/v2/billing/usage/my-usage"): billing.my_usage,
            ("GET", "/v2/billing/usage/users"): billing.all_usage,
            ("GET", "/v2/admin/llm-keys"): keys.system_status,
            ("PUT", "/v2/admin/llm-keys/{provider}"): keys.set_system,
            ("POST", "/v2/admin/llm-keys/{provider}/rotate"): keys.rotate_system,
            ("DELETE", "/v2/admin/llm-keys/{provider}"): keys.remove_system,
        }
        self._audience = {(method, path): audience for method, path, audience in ROUTES}

    def routes(self) -> dict[str, dict[str, Handler]]:
        """method -> path -> handler, for the paths without an id in them."""
        table: dict[str, dict[str, Handler]] = {}
        for method, path, audience in ROUTES:
            if "{" in path:
                continue
            if path == "/v2/llm/chat/completions/stream":
                table.setdefault(method, {})[path] = self._stream
            else:
                table.setdefault(method, {})[path] = self._room.handler(self._work[method, path], audience)
        return table

    def find(self, method: str, path: str) -> Handler | None:
        """The handler of a ``/v2`` path with an id in it (or a 404 in this API's format)."""
        if not path.startswith("/v2/"):
            return None
        parts = path.split("/")
        for route_method, template, audience in ROUTES:
            if route_method != method or "{" not in template:
                continue
            pattern = template.split("/")
            if len(pattern) != len(parts):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, parts, strict=True):
                if want.startswith("{"):
                    if not got:
                        break
                    params[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return self._room.handler(self._work[method, template], audience, params)
        return partial(self._not_found, method, path)

    @staticmethod
    async def _not_found(method: str, path: str, request: Request, send: Send) -> None:
        await send_error(send, NotFoundError(f"There is no endpoint {method} {path} in the account API."))

    async def _stream(self, request: Request, send: Send) -> None:
        await self._room.handler(self._chat.streamer(send), "user")(request, send)
