"""The account API (``/v2``): people log in, keep their provider keys, list models, chat, see usage.

:data:`ROUTES` lists every route with who may call it (``anonymous``, ``user``, ``superuser``);
the permission test walks it. :meth:`AccountApi.endpoints` gives them to the gateway's route
table, :meth:`AccountApi.guards` the guards of the two logged-in audiences, and
:data:`ACCOUNT_ERRORS` is this API's error body.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.accounts.records import UserRecord
from bastion.api.account._bodies import BODIES, SUMMARIES
from bastion.api.account._errors import ACCOUNT_ERRORS
from bastion.api.account._room import AccountServices, Handler, Room, Work
from bastion.api.account.billing import BillingEndpoints
from bastion.api.account.chat import ChatEndpoints
from bastion.api.account.keys import KeyEndpoints
from bastion.api.account.login import LoginEndpoints
from bastion.api.account.models import ModelEndpoints
from bastion.api.account.users import UserEndpoints
from bastion.api.asgi import Request, Send, send_json
from bastion.api.endpoints import ACCOUNT_SUPERUSER, ACCOUNT_USER, PUBLIC, Audience, Endpoint, Guard
from bastion.api.guards import bearer_token, superuser_guard

__all__ = ["ACCOUNT_ERRORS", "ROUTES", "AccountApi", "AccountServices"]

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

    def guards(self) -> Mapping[Audience, Guard]:
        """The account audiences: a logged-in account, and a superuser one."""
        accounts = self._room.s.accounts

        async def user(request: Request) -> UserRecord:
            return await accounts.authenticate(bearer_token(request))

        return {ACCOUNT_USER: user, ACCOUNT_SUPERUSER: superuser_guard(user)}

    def endpoints(self) -> list[Endpoint]:
        """Every route of :data:`ROUTES`, with the audience it names."""
        found = []
        for method, path, audience in ROUTES:
            handler: Handler
            if path == "/v2/llm/chat/completions/stream":
                handler = self._stream
            else:
                handler = _json(self._work[method, path])
            found.append(
                Endpoint(
                    method,
                    path,
                    handler,
                    _AUDIENCES[audience],
                    ACCOUNT_ERRORS,
                    SUMMARIES.get((method, path), ""),
                    tag="account",
                    body=BODIES.get((method, path)),
                    produces="text/event-stream" if handler == self._stream else "application/json",
                )
            )
        return found

    async def _stream(self, request: Request, send: Send) -> None:
        await self._chat.streamer(send)(request, request.caller, request.params)


def _json(work: Work) -> Handler:
    """``work(request, user, params)``'s ``(status, data)`` as a JSON response (the guard ran first)."""

    async def handle(request: Request, send: Send) -> None:
        answer = await work(request, request.caller, request.params)
        if answer is not None:  # None: the work sent its own response
            status, data = answer
            await send_json(send, status, data)

    return handle


_AUDIENCES = {"anonymous": PUBLIC, "user": ACCOUNT_USER, "superuser": ACCOUNT_SUPERUSER}
