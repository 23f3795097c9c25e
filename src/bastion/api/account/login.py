"""``POST /v2/login/access-token``: the OAuth2 password flow (form fields ``username``, ``password``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson

from bastion.api.account._room import Room
from bastion.api.asgi import Request
from bastion.domain.errors import InvalidRequestError

__all__ = ["LoginEndpoints"]


class LoginEndpoints:
    def __init__(self, room: Room) -> None:
        self._room = room

    async def access_token(self, request: Request, user: Any, params: Any) -> tuple[int, Any]:
        username, password = await self._credentials(request)
        client = request.scope.get("client")
        address = client[0] if client else None
        token = await self._room.s.accounts.log_in(username, password, address)
        return 200, {
            "access_token": token.token,
            "token_type": "bearer",
            "expires_in": token.expires_in,
            "expires_at": token.expires_at,
        }

    async def _credentials(self, request: Request) -> tuple[str, str]:
        raw = await request.body(self._room.s.body_limit)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        fields: dict[str, Any]
        if kind == "application/json":
            try:
                loaded = orjson.loads(raw)
            except orjson.JSONDecodeError:
                loaded = None
            fields = loaded if isinstance(loaded, dict) else {}
        else:
            fields = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        username, password = fields.get("username"), fields.get("password")
        if not isinstance(username, str) or not username or not isinstance(password, str) or not password:
            raise InvalidRequestError(
                "Send the form fields 'username' (your email) and 'password' "
                "(application/x-www-form-urlencoded, as OAuth2's password flow does).",
                param="username",
            )
        return username, password
