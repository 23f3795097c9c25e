"""The order every call takes, written once: authenticate -> model check -> routing (a plan's model
aliases, then routing rules) -> credit, rate limits and budget -> cache -> attempts and fallbacks
-> relay -> record.

The client surfaces (OpenAI, Anthropic and Gemini chat, embeddings and token counts, the browser
token stream, ``/v2`` chat) are thin adapters around one :class:`Pipeline`: they read the key and
the body, call it, and write its answer or its error in their own format. The steps from the
cache on belong to :class:`~bastion.gateway.chat.ChatService`; the request is recorded exactly
once (:meth:`ChatService.finish`), on success, refusal, failure, cache hit or a broken stream.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bastion.accounting.records import UsageRecord
from bastion.auth.keys import KeyRing
from bastion.domain.errors import BastionError, InvalidRequestError, PermissionDeniedError
from bastion.domain.principal import ANONYMOUS, Principal
from bastion.gateway.admission import Gatekeeper
from bastion.gateway.chat import ChatService
from bastion.gateway.context import CallContext, new_request_id
from bastion.gateway.embeddings import EmbeddingsService
from bastion.gateway.relay import StreamRelay
from bastion.gateway.router import Router
from bastion.gateway.routes import RouteTable
from bastion.gateway.surfaces import Surface
from bastion.gateway.tokens import TokenCounter

__all__ = ["Admitter", "Pipeline", "Work"]

#: A surface's own model check: checks the body (and may adjust it), returns the model group.
Admitter = Callable[[Principal, dict[str, Any]], str]
#: A call other than chat (embeddings, token counts): given the admitted group, the answer's body.
Work = Callable[[CallContext, dict[str, Any], str], Awaitable[bytes]]


class Pipeline:
    def __init__(
        self,
        *,
        keys: KeyRing,
        router: Router,
        chat: ChatService,
        embeddings: EmbeddingsService,
        tokens: TokenCounter,
        gatekeeper: Gatekeeper | None = None,
        routes: RouteTable | None = None,
    ) -> None:
        self._keys = keys
        self._router = router
        self._chat = chat
        self.embeddings = embeddings
        self.tokens = tokens
        self._gatekeeper = gatekeeper
        self._routes = routes if routes is not None and routes.active else None
        self._routed = chat.metrics.routed
        self._plans = gatekeeper.plans if gatekeeper is not None else None

    # ------------------------------------------------------------------ a call's record

    @staticmethod
    def context(
        surface: Surface,
        headers: Mapping[str, str],
        *,
        principal: Principal | None = None,
        model_group: str | None = None,
        stream: bool = False,
    ) -> CallContext:
        """A new call on ``surface``; its record starts here. A caller that already knows who calls
        (``principal``), the model group and whether it streams hands them in now."""
        request_id = new_request_id()
        record = UsageRecord(
            request_id=request_id,
            surface=surface.name,
            model_group=model_group,
            stream=stream,
            started_at=time.time(),
        )
        ctx = CallContext(request_id, surface, ANONYMOUS, headers, record, stream=stream)
        if principal is not None:
            _note(ctx, principal)
        return ctx

    # ------------------------------------------------------------------ the order

    async def principal(self, key: str | None, *, browser: bool = False) -> Principal:
        """Who sent ``key`` (a browser token only on the browser streams)."""
        return await self._keys.authenticate(key, browser=browser)

    async def authenticate(self, ctx: CallContext, key: str | None, *, browser: bool = False) -> None:
        """Who is calling, noted on the call's record."""
        _note(ctx, await self._keys.authenticate(key, browser=browser))

    def check_model(self, principal: Principal, model: Any) -> str:
        """Check the model exists and the caller may use it; return the model group name."""
        if not isinstance(model, str) or not model:
            raise InvalidRequestError(
                "The request needs a 'model': one of the model names this gateway serves."
            )
        group = self._router.resolve(model)  # raises ModelNotFoundError listing what exists
        if not principal.may_use(group):
            allowed = ", ".join(sorted(principal.models))
            raise PermissionDeniedError(
                f"This key may not use model '{group}'. Models allowed for this key: {allowed}."
            )
        return group

    async def admit(
        self,
        ctx: CallContext,
        body: dict[str, Any],
        requested: Any,
        *,
        check: Admitter | None = None,
        route: bool = True,
        limited: bool = True,
        cache_controls: bool = False,
    ) -> str:
        """Model check (``check``: the surface's own), routing rules (``route``), then credit, rate
        limits and the budget reservation (``limited``; token counts cost nothing upstream).
        ``cache_controls``: take LiteLLM's ``cache`` field off a chat body (it is for the gateway,
        not the provider). Returns the group that serves the call."""
        group = (
            check(ctx.principal, body) if check is not None else self.check_model(ctx.principal, requested)
        )
        if cache_controls and isinstance(body.get("cache"), dict):
            ctx.cache_control = body.pop("cache")
        ctx.requested_model = requested if isinstance(requested, str) else group
        ctx.record.model_group = group
        if route:
            if self._plans is not None:
                group = await self._plan_route(ctx, body, group)
            group = self._route(ctx, body, group)
        if limited:
            await self.limit(ctx, body, group)
        return group

    async def limit(self, ctx: CallContext, body: dict[str, Any], group: str) -> None:
        """Credit, rate limits, parallel slots and the budget reservation (settled when recorded)."""
        if self._gatekeeper is not None:
            await self._gatekeeper.admit(ctx, body, group)

    async def _plan_route(self, ctx: CallContext, body: dict[str, Any], group: str) -> str:
        """The caller's plan's ``model_aliases``: recorded as a routing rule named ``plan:<name>``
        (spend log, ``x-bastion-route``, the routed metric); limits, budget and prices then apply
        to the group that serves the call, as after a routing rule."""
        assert self._plans is not None
        served = await self._plans.route(ctx, body, group)
        if served != group:
            record = ctx.record
            rule = f"plan:{ctx.plan.plan.plan_id}" if ctx.plan is not None else "plan"
            record.routed_from, record.route_rule, record.model_group = group, rule, served
            ctx.response_headers.append((b"x-bastion-route", rule.encode()))
            self._routed.labels(group, rule, served).inc()
            if self._routes is None:
                ctx.response_headers.append((b"x-bastion-model-group", served.encode()))
        return served

    def _route(self, ctx: CallContext, body: dict[str, Any], group: str) -> str:
        if self._routes is None:
            return group
        choice = self._routes.choose(group, body, ctx.headers, ctx.principal)
        headers = ctx.response_headers
        if choice.rule is not None:
            record = ctx.record
            # A plan's alias first sent the call here: the record keeps the group asked for.
            record.routed_from = record.routed_from or group
            record.route_rule = choice.rule
            record.model_group = choice.group
            headers.append((b"x-bastion-route", choice.rule.encode()))
            self._routed.labels(group, choice.rule, choice.group).inc()
        headers.append((b"x-bastion-model-group", choice.group.encode()))
        return choice.group

    # ------------------------------------------------------------------ the work

    async def complete(self, ctx: CallContext, body: dict[str, Any], group: str) -> bytes:
        """cache -> attempts and fallbacks -> record; the client's answer body."""
        return await self._chat.complete(ctx, body, group)

    async def open_stream(self, ctx: CallContext, body: dict[str, Any], group: str) -> StreamRelay:
        """cache -> attempts and fallbacks; the relay records the call as the stream ends."""
        return await self._chat.open_stream(ctx, body, group)

    async def run(self, ctx: CallContext, body: dict[str, Any], group: str, work: Work) -> bytes:
        """A call other than chat (embeddings, token counts), recorded once it answered."""
        out = await work(ctx, body, group)
        self._chat.finish(ctx)
        return out

    # ------------------------------------------------------------------ recording

    def fail(self, ctx: CallContext, err: BastionError) -> None:
        """Record a call refused or failed before any answer (once; later calls do nothing)."""
        self._chat.finish(ctx, status=err.status, error=err)

    def abandoned(self, ctx: CallContext, body: dict[str, Any]) -> None:
        """Record a non-streamed call its client hung up on (its upstream call was cancelled)."""
        self._chat.abandoned(ctx, body)

    def finish(self, ctx: CallContext, *, status: int = 200, error: BastionError | None = None) -> None:
        self._chat.finish(ctx, status=status, error=error)


def _note(ctx: CallContext, principal: Principal) -> None:
    """The caller, on the call and its record."""
    ctx.principal = principal
    record = ctx.record
    record.principal_kind, record.principal_label = principal.kind, principal.label
    if principal.kind == "virtual_key":
        record.key_hash, record.team_id, record.user_id = (
            principal.key_hash,
            principal.team_id,
            principal.user_id,
        )
    elif principal.kind == "jwt":  # an end user vouched for by an identity provider's token
        record.team_id, record.user_id = principal.team_id, principal.user_id
    elif principal.kind == "browser_token":  # spend counts to the key that minted it
        record.key_hash = principal.key_hash or None
        record.team_id, record.user_id = principal.team_id, principal.user_id
    elif principal.kind == "user":  # an account user on /v2
        record.user_id = principal.user_id
