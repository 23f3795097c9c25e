"""The response cache: whether a request may be answered from or stored in the cache, and doing it.

Who decides, most specific last:

* the config: ``litellm_settings.cache`` on, ``cache_params.mode`` (``default_off`` caches only
  requests that ask with ``cache: {"use-cache": true}``), ``ttl``, ``scope``;
* the key's (or else its team's) metadata ``cache``: ``{"enabled": false}`` or ``{"ttl": 60}``;
* the request: ``Cache-Control: no-cache`` (do not answer from the cache) / ``no-store`` (do not
  store the answer), or LiteLLM's body field ``cache: {"no-cache": true, "no-store": true,
  "ttl": 60, "s-maxage": 30}`` (taken off the body before it goes upstream).

Requests asking for several choices (``n`` > 1) are never cached (the canonical answer holds one).
Stores happen in the background; :meth:`ResponseCache.settled` waits for them (tests, shutdown).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bastion.domain.errors import BastionError
from bastion.domain.principal import Principal
from bastion.gateway.cache_key import cache_key
from bastion.gateway.cache_store import CacheStore, MemoryCacheStore
from bastion.gateway.cached_answer import AnswerBuilder, cacheable, decode_answer, encode_answer
from bastion.observability.metrics import Metrics
from bastion.protocols.canonical import ChatResponse, StreamEvent
from bastion.providers.base import EventDecoder
from bastion.settings import CacheSettings
from bastion.tasks import TaskSet

if TYPE_CHECKING:
    from bastion.gateway.context import CallContext
    from bastion.outbound.resp import RespClient

__all__ = ["CACHE_HEADER", "CacheTicket", "FrameObserver", "ResponseCache", "build_cache_store"]


#: Says whether the answer came from the cache (``hit``) or not (``miss``).
CACHE_HEADER = b"x-bastion-cache"
#: LiteLLM's header with the entry's key (a hash: it reveals nothing about the request or caller).
KEY_HEADER = b"x-litellm-cache-key"


@dataclass(slots=True)
class CacheTicket:
    """One request's cache decision: its key, and what it may do with the cache."""

    key: str
    lookup: bool
    store: bool
    ttl: float
    #: LiteLLM's ``s-maxage``: only entries younger than this many seconds answer.
    max_age: float | None = None


def build_cache_store(settings: CacheSettings, redis: RespClient | None = None) -> CacheStore:
    """The store the settings name; a Redis cache sends its commands on ``redis``, the process's
    client for ``settings.redis_url``."""
    if settings.type == "redis":
        if redis is None:
            raise ValueError("a Redis cache needs the Redis client of its redis_url")
        from bastion.gateway.cache_redis import RedisCacheStore  # Redis only when used

        return RedisCacheStore(redis)
    return MemoryCacheStore(settings.max_entries)


class ResponseCache:
    def __init__(self, settings: CacheSettings, store: CacheStore, metrics: Metrics) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._pending = TaskSet("cache-store")

    async def begin(self, ctx: CallContext, body: dict[str, Any], group: str) -> ChatResponse | None:
        """Decide for this request; on a hit, note it on the record and return the answer."""
        ticket = self.ticket(
            principal=ctx.principal,
            headers=ctx.headers,
            body=body,
            surface=ctx.surface.name,
            group=group,
            control=ctx.cache_control,
        )
        if ticket is None:
            return None
        ctx.cache = ticket
        hit = await self.lookup(ticket, group)
        headers = ctx.response_headers
        headers.append((KEY_HEADER, ticket.key.rpartition(":")[2].encode()))
        if hit is None:
            headers.append((CACHE_HEADER, b"miss"))
            return None
        headers.append((CACHE_HEADER, b"hit"))
        record = ctx.record
        record.cache_hit = True
        record.provider = "cache"
        record.upstream_model = hit.model
        record.usage = hit.usage
        return hit

    def keep(self, ctx: CallContext, answer: Callable[[], ChatResponse]) -> None:
        """Store the answer of a successful call (``answer`` builds it only when it is stored)."""
        ticket = ctx.cache
        if ticket is None or not ticket.store or ctx.record.cache_hit:
            return
        try:
            resp = answer()
        except (BastionError, KeyError, TypeError, ValueError, AttributeError):
            return  # an answer the canonical form cannot hold: served, not cached
        self.store(ticket, resp)

    async def tap(self, ctx: CallContext, events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """Pass ``events`` on, storing the answer as soon as its end arrives (before the client
        sees the end). A stream that errors or breaks, or whose client leaves, never gets there."""
        builder = AnswerBuilder()
        async for event in events:
            builder.feed(event)
            resp = builder.response
            if resp is not None:
                builder.response = None
                self.keep(ctx, lambda: resp)  # noqa: B023  # called at once
            yield event

    def observer(self, ctx: CallContext, decoder: EventDecoder) -> FrameObserver:
        """For a pass-through stream: decodes its frames on the side to store the answer."""
        return FrameObserver(self, ctx, decoder)

    def ticket(
        self,
        *,
        principal: Principal,
        headers: Mapping[str, str],
        body: dict[str, Any],
        surface: str,
        group: str,
        control: Mapping[str, Any] | None = None,
    ) -> CacheTicket | None:
        """The request's cache decision, or None when the cache stays out of it entirely."""
        settings = self._settings
        if not settings.enabled:
            return None
        n = body.get("n", body.get("candidateCount"))
        if n is not None and n != 1:
            return None
        own = _policy(principal)
        if own.get("enabled") is False:
            return None
        control = control or {}
        if settings.mode == "default_off" and not (
            control.get("use-cache") is True or own.get("enabled") is True
        ):
            return None
        header = headers.get("cache-control", "").lower()
        lookup = "no-cache" not in header and control.get("no-cache") is not True
        store = "no-store" not in header and control.get("no-store") is not True
        if not lookup and not store:
            return None
        ttl = _positive(control.get("ttl")) or _positive(own.get("ttl")) or settings.ttl
        key = cache_key(
            namespace=settings.namespace,
            surface=surface,
            group=group,
            scope=_scope(settings.scope, principal),
            body=body,
        )
        return CacheTicket(key, lookup, store, ttl, _positive(control.get("s-maxage")))

    async def lookup(self, ticket: CacheTicket, group: str) -> ChatResponse | None:
        """The cached answer, counting a hit or a miss."""
        found = None
        if ticket.lookup:
            data = await self._store.get(ticket.key)
            answer = decode_answer(data) if data is not None else None
            if answer is not None and (
                ticket.max_age is None or time.time() - answer.stored_at <= ticket.max_age
            ):
                found = answer.response
        self._metrics.cache.labels(group, "hit" if found is not None else "miss").inc()
        return found

    def store(self, ticket: CacheTicket, resp: ChatResponse) -> None:
        """Keep ``resp`` for ``ticket`` (in the background)."""
        if not ticket.store or not cacheable(resp):
            return
        self._pending.spawn(self._store.set(ticket.key, encode_answer(resp), ticket.ttl))

    async def settled(self) -> None:
        """Return once every store started so far is done."""
        await self._pending.drain()

    async def close(self) -> None:
        await self.settled()
        await self._store.close()


def _policy(principal: Principal) -> Mapping[str, Any]:
    """The key's ``metadata.cache``, else its team's."""
    for metadata in (principal.metadata, principal.team_metadata):
        value = metadata.get("cache")
        if isinstance(value, dict):
            return value
        if isinstance(value, bool):
            return {"enabled": value}
    return {}


def _scope(scope: str, principal: Principal) -> str:
    if scope == "global":
        return "global"
    if scope == "team" and principal.team_id:
        return f"team:{principal.team_id}"
    return f"key:{principal.key_hash or principal.kind}"


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


class FrameObserver:
    """Reads a pass-through stream's frames into the canonical answer, and stores it when the
    stream ended well (the relay calls :meth:`complete` on the provider's last frame)."""

    __slots__ = ("_builder", "_cache", "_ctx", "_decoder")

    def __init__(self, cache: ResponseCache, ctx: CallContext, decoder: EventDecoder) -> None:
        self._cache = cache
        self._ctx = ctx
        self._decoder = decoder
        self._builder = AnswerBuilder()

    def feed(self, event: str | None, data: bytes) -> None:
        feed = self._builder.feed
        for out in self._decoder.feed(event, data):
            feed(out)

    def complete(self) -> None:
        for out in self._decoder.finish():
            self._builder.feed(out)
        resp = self._builder.response
        if resp is not None:
            self._cache.keep(self._ctx, lambda: resp)
