"""Telling every gateway process that keys changed, so their caches drop them.

``revoked`` is for keys that must stop working now (deleted, blocked, their team deleted or
blocked, an old value retired); ``changed`` for keys that work on with new settings. The callbacks
come from the composition root (the limits layer's revocation channel: in-process, or Redis
pub/sub across processes). A failure is logged and never reported to the caller: the change is
already committed, and answering with an error would make the caller retry something that
succeeded. Caches still expire on their own (short TTL).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["Announcer", "Revoke"]

_log = logging.getLogger("bastion.administration")

#: Called with a key's hash.
Revoke = Callable[[str], Awaitable[None]]


async def _nobody(token: str) -> None:
    return None


class Announcer:
    """``forget`` drops a key from this process's own cache first: the channel's notice reaches
    this process too, but after the answer to the change may already have been sent."""

    def __init__(
        self,
        on_revoke: Revoke = _nobody,
        on_change: Revoke | None = None,
        *,
        forget: Callable[[str], None] | None = None,
    ) -> None:
        self._on_revoke = on_revoke
        self._on_change = on_change or on_revoke
        self._forget = forget

    async def revoked(self, tokens: Iterable[str]) -> None:
        """Keys that must stop working now."""
        await self._announce(self._on_revoke, tokens)

    async def changed(self, tokens: Iterable[str]) -> None:
        """Keys that still work but whose limits, models or state changed (reload them)."""
        await self._announce(self._on_change, tokens)

    async def _announce(self, callback: Revoke, tokens: Iterable[str]) -> None:
        for token in tokens:
            if self._forget is not None:
                self._forget(token)
            try:
                await callback(token)
            except Exception:
                _log.exception("could not announce a change of key hash %s...", token[:12])
