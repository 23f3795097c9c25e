"""What every management endpoint shares: the services, the guard around a handler, key lookup.

A handler here is ``work(request, principal) -> JSON-able data``; the route table runs the
audience's guard first (the master key, or any key for ``GET /key/info``), sends the data with
status 200 and renders any :class:`~bastion.domain.errors.BastionError` as OpenAI's
``{"error": {...}}`` body (LiteLLM's management API uses that shape).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from bastion.api.asgi import Request, Send
from bastion.auth.keys import hash_key
from bastion.auth.virtual_keys import key_name
from bastion.domain.errors import (
    InvalidRequestError,
    NotFoundError,
)
from bastion.domain.principal import Principal
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
        on_revoke: Revoke,
        *,
        on_change: Revoke | None = None,
        body_limit: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        budget_tz: tzinfo = UTC,
    ) -> None:
        self.db = db
        self._on_revoke = on_revoke
        self._on_change = on_change or on_revoke
        self.body_limit = body_limit
        self.clock = clock
        self.budget_tz = budget_tz

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
