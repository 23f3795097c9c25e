"""What every management endpoint shares: the services, the guard around a handler, key lookup.

A handler here is ``work(request, principal) -> JSON-able data``; :meth:`Management.handler`
wraps it into an ASGI ``handler(request, send)`` that authenticates, checks the caller is the
admin, renders any :class:`~bastion.domain.errors.BastionError` as OpenAI's ``{"error": {...}}``
body (LiteLLM's management API uses that shape) and sends the data with status 200.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from bastion.api.asgi import Request, Send, send_bytes, send_json
from bastion.auth.keys import hash_key
from bastion.auth.virtual_keys import key_name
from bastion.domain.errors import (
    BastionError,
    InternalError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from bastion.domain.principal import Principal
from bastion.gateway.surfaces import OPENAI
from bastion.store import Database, KeyRecord

__all__ = [
    "Authenticate",
    "Handler",
    "Management",
    "Revoke",
    "Work",
    "describe_key",
    "key_not_found",
    "required_query",
    "token_of",
]

_log = logging.getLogger("bastion.api.management")

Handler = Callable[[Request, Send], Awaitable[None]]
Authenticate = Callable[[Request], Awaitable[Principal]]
Revoke = Callable[[str], Awaitable[None]]
Work = Callable[[Request, Principal], Awaitable[Any]]

_PAGE = 500

_ADMIN_ONLY = (
    "This endpoint needs the gateway's master key (general_settings.master_key). "
    "A virtual key may only read its own GET /key/info."
)


def token_of(value: str) -> str:
    """The token (SHA-256 hex) of a key given raw (``sk-...``) or already hashed, as LiteLLM reads it."""
    return hash_key(value) if value.startswith("sk-") else value


def describe_key(value: str) -> str:
    """How a key the caller named appears in a message: ``sk-...abcd`` or the hash's first characters."""
    return key_name(value) if value.startswith("sk-") else f"with hash {value[:12]}..."


class Management:
    """The database, the callbacks and the settings every endpoint module works with."""

    def __init__(
        self,
        db: Database,
        authenticate: Authenticate,
        on_revoke: Revoke,
        *,
        on_change: Revoke | None = None,
        body_limit: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        budget_tz: tzinfo = UTC,
    ) -> None:
        self.db = db
        self._authenticate = authenticate
        self._on_revoke = on_revoke
        self._on_change = on_change or on_revoke
        self.body_limit = body_limit
        self.clock = clock
        self.budget_tz = budget_tz

    def handler(self, work: Work, *, admin_only: bool = True) -> Handler:
        """``work`` as an ASGI handler; ``admin_only=False`` leaves the permission check to ``work``."""

        async def handle(request: Request, send: Send) -> None:
            try:
                principal = await self._authenticate(request)
                if admin_only and not principal.is_admin:
                    raise PermissionDeniedError(_ADMIN_ONLY, code="admin_only")
                data = await work(request, principal)
            except BastionError as err:
                await _send_error(send, err)
                return
            except Exception:
                _log.exception("management endpoint %s %s failed", request.method, _loggable(request.path))
                await _send_error(send, InternalError("Bastion failed while handling this request."))
                return
            await send_json(send, 200, data)

        return handle

    async def body(self, request: Request, *, optional: bool = False) -> dict[str, Any]:
        """The JSON object sent; ``{}`` for an empty body when ``optional``."""
        return await request.json(self.body_limit, optional=optional)

    async def revoke(self, tokens: Iterable[str]) -> None:
        """Announce keys that must stop working now (deleted, blocked, retired)."""
        await _announce(self._on_revoke, tokens)

    async def changed(self, tokens: Iterable[str]) -> None:
        """Announce keys that still work but whose limits, models or state changed (reload them)."""
        await _announce(self._on_change, tokens)

    async def key(self, value: str) -> KeyRecord:
        """The key named by ``value`` (raw or hash); 404 when there is none."""
        record = await self.db.keys.get(token_of(value))
        if record is None:
            raise key_not_found(value)
        return record

    async def all_keys(self, *, team_id: str | None = None, user_id: str | None = None) -> list[KeyRecord]:
        """Every key of a team or a user, read page by page."""
        found: list[KeyRecord] = []
        page = 1
        while True:
            batch = await self.db.keys.list_keys(team_id=team_id, user_id=user_id, page=page, size=_PAGE)
            found.extend(batch.items)
            if len(batch.items) < _PAGE:
                return found
            page += 1

    async def key_by_alias(self, alias: str) -> KeyRecord:
        record = await self.db.keys.get_by_alias(alias)
        if record is None:
            raise NotFoundError(f"No key has key_alias '{alias}'.", param="key_alias")
        return record


def key_not_found(value: str) -> NotFoundError:
    return NotFoundError(f"Key {describe_key(value)} not found.", param="key")


def required_query(request: Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not value:
        raise InvalidRequestError(f"Pass the '{name}' query parameter.", param=name)
    return value


async def _announce(callback: Revoke, tokens: Iterable[str]) -> None:
    """Call ``callback`` for each token; a failure is logged, never reported to the client.

    The change is already committed when this runs: answering with an error would make the
    caller retry something that succeeded. Caches still expire on their own (short TTL).
    """
    for token in tokens:
        try:
            await callback(token)
        except Exception:
            _log.exception("could not announce a change of key hash %s...", token[:12])


def _loggable(path: str) -> str:
    """The path with any key in it (``/key/{key}/regenerate``) shown as ``sk-...abcd``."""
    return "/".join(key_name(part) if part.startswith("sk-") else part for part in path.split("/"))


async def _send_error(send: Send, err: BastionError) -> None:
    status, body, headers = OPENAI.render_error(err)
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    await send_bytes(send, status, body, headers=raw)
