"""Refusing calls of orgs out of credit: Autumn's ``POST /v1/check``, cached briefly per org.

Admission awaits :meth:`CreditCheck.check` for every call whose caller belongs to a team (the org):
virtual keys with a team, and end users whose token names one. Other callers are not checked.
The answer (allowed or not) is cached for ``cache_seconds``, and concurrent calls of one org share
one request, so a burst costs one round trip. When Autumn cannot be asked, ``fail_open`` (the
default) admits the call; otherwise it is refused with a 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import orjson

from bastion.billing.errors import BillingUnavailableError, DeliveryError, OutOfCreditError
from bastion.billing.sinks._http import post
from bastion.domain.principal import Principal
from bastion.outbound.http import HttpPool
from bastion.settings.billing import AutumnSink, EntitlementSettings
from bastion.tasks import spawn_awaited

__all__ = ["CreditCheck"]

_log = logging.getLogger("bastion.billing.entitlement")
_MAX_CACHED = 100_000


class CreditCheck:
    def __init__(
        self,
        autumn: AutumnSink,
        settings: EntitlementSettings,
        *,
        http: HttpPool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._autumn = autumn
        self._settings = settings
        self._clock = clock
        self._cache: dict[str, tuple[bool, float]] = {}
        self._asking: dict[str, asyncio.Task[bool]] = {}
        self._http = http

    async def check(self, principal: Principal) -> None:
        """Raise OutOfCreditError if the principal's org has no credit left."""
        team = principal.team_id
        if not team:  # the master key and static keys belong to no org
            return
        cached = self._cache.get(team)
        if cached is not None and cached[1] > self._clock():
            allowed = cached[0]
        else:
            allowed = await self._ask_once(team)
        if not allowed:
            raise OutOfCreditError(team)

    async def _ask_once(self, team: str) -> bool:
        """One question per org at a time; a caller that goes away does not cancel it for others."""
        task = self._asking.get(team)
        if task is None:
            task = spawn_awaited(self._ask(team), name="credit-check")
            self._asking[team] = task
            task.add_done_callback(lambda done: self._forget(team, done))
        return await asyncio.shield(task)

    def _forget(self, team: str, task: asyncio.Task[bool]) -> None:
        self._asking.pop(team, None)
        if not task.cancelled():
            task.exception()  # retrieved: the callers that still wait re-raise it

    async def _ask(self, team: str) -> bool:
        s = self._autumn
        try:
            answer = await post(
                self._http,
                "autumn",
                f"{s.api_url}/v1/check",
                headers={"Authorization": f"Bearer {s.api_key.reveal()}"},
                timeout=s.timeout,
                json_body=orjson.dumps({"customer_id": team, "feature_id": s.feature_id}),
            )
            if not answer.ok:
                raise answer.failure("autumn")
        except DeliveryError as exc:
            _log.warning("credit check failed", extra={"team_id": team, "error": exc.message})
            if not self._settings.fail_open:
                raise BillingUnavailableError() from exc
            # Admit, and do not ask again for a while: a down provider must not slow every call.
            self._remember(team, True)
            return True
        allowed = answer.json.get("allowed") is not False
        self._remember(team, allowed)
        return allowed

    def _remember(self, team: str, allowed: bool) -> None:
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[team] = (allowed, self._clock() + self._settings.cache_seconds)

    async def close(self) -> None:
        """Wait for the questions in flight (the HTTP client is its owner's to close)."""
        if self._asking:
            await asyncio.gather(*self._asking.values(), return_exceptions=True)
