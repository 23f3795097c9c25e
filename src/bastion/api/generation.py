"""The generation endpoints of every surface: authenticate, admit, call the pipeline, render.

The same handler serves OpenAI chat completions, Anthropic messages and Gemini generateContent;
the surface decides how the body names the model and how answers and errors are written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from bastion.accounting.records import UsageRecord
from bastion.api.asgi import Request, Send, send_bytes, stream_response
from bastion.auth.keys import KeyRing, extract_key
from bastion.domain.errors import BastionError, InternalError, InvalidRequestError, PermissionDeniedError
from bastion.domain.principal import ANONYMOUS, Principal
from bastion.gateway.chat import ChatService
from bastion.gateway.context import CallContext, new_request_id
from bastion.gateway.router import Router
from bastion.gateway.routes import RouteTable
from bastion.gateway.surfaces import Surface

__all__ = ["Admitter", "CallHooks", "GenerationHandler", "request_id_headers"]

#: A surface's own admission: checks the body (and may adjust it), returns the model group.
Admitter = Callable[[Principal, dict[str, Any]], str]


class CallHooks(Protocol):
    """What a stateful surface (the Responses API) adds around the one pipeline."""

    async def prepare(self, ctx: CallContext, body: dict[str, Any]) -> None:
        """After authentication, before admission: read state the body refers to (and expand it)."""

    async def answered(self, ctx: CallContext, out: bytes) -> None:
        """A JSON answer is ready; runs before its bytes are sent."""

    def stream(self, ctx: CallContext, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Wraps a streamed answer's frames on their way to the client."""


_log = logging.getLogger("bastion.api")


def request_id_headers(surface: Surface, request_id: str) -> list[tuple[bytes, bytes]]:
    rid = request_id.encode()
    if surface.name == "anthropic":
        return [(b"request-id", rid), (b"x-request-id", rid)]
    return [(b"x-request-id", rid)]


class GenerationHandler:
    def __init__(
        self,
        *,
        keys: KeyRing,
        router: Router,
        chat: ChatService,
        body_limit: int,
        keepalive_seconds: float = 15.0,
        routes: RouteTable | None = None,
    ) -> None:
        self._routes = routes if routes is not None and routes.active else None
        self._keepalive_seconds = keepalive_seconds
        self._in_flight = chat.metrics.in_flight
        self._keys = keys
        self._router = router
        self._chat = chat
        self._limit = body_limit

    async def authenticate(self, request: Request, *, browser: bool = False) -> Principal:
        """The caller; a browser token only on the browser token stream (``browser``)."""
        headers = request.headers
        # The query string is parsed only for the rare client that sends its key there (Gemini ?key=).
        key = extract_key(headers, None)
        if key is None and request.scope.get("query_string"):
            key = request.query.get("key")
        return await self._keys.authenticate(key, browser=browser)

    def admit(self, principal: Principal, model: Any) -> str:
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

    def route(self, ctx: CallContext, body: dict[str, Any], group: str) -> str:
        """The model group that serves this request, after the routing rules."""
        if self._routes is None:
            return group
        choice = self._routes.choose(group, body, ctx.headers, ctx.principal)
        headers = ctx.response_headers
        if choice.rule is not None:
            record = ctx.record
            record.routed_from, record.route_rule = group, choice.rule
            record.model_group = choice.group
            headers.append((b"x-bastion-route", choice.rule.encode()))
            self._chat.metrics.routed.labels(group, choice.rule, choice.group).inc()
        headers.append((b"x-bastion-model-group", choice.group.encode()))
        return choice.group

    def context(self, request: Request, surface: Surface) -> CallContext:
        request_id = new_request_id()
        record = UsageRecord(
            request_id=request_id,
            surface=surface.name,
            model_group=None,
            stream=False,
            started_at=time.time(),
        )
        return CallContext(request_id, surface, ANONYMOUS, request.headers, record)

    async def start(self, ctx: CallContext, request: Request) -> None:
        """Authenticate the caller and note who it is on the record."""
        ctx.principal = principal = await self.authenticate(
            request, browser=ctx.surface.name == "tokenstream"
        )
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

    def finish(self, ctx: CallContext) -> None:
        self._chat.finish(ctx)

    async def handle(
        self,
        request: Request,
        send: Send,
        surface: Surface,
        *,
        path_model: str | None = None,
        path_stream: bool | None = None,
        body_limit: int | None = None,
        admit: Admitter | None = None,
        headers: Sequence[tuple[bytes, bytes]] = (),
        hooks: CallHooks | None = None,
    ) -> None:
        """Serve one generation call. ``body_limit``, ``admit`` and ``headers`` (added to every
        response) let a surface such as the browser token stream apply its own rules; ``hooks``
        let a stateful one (the Responses API) read and keep its state."""
        self._in_flight.inc()
        try:
            await self._handle(
                request,
                send,
                surface,
                path_model=path_model,
                path_stream=path_stream,
                body_limit=body_limit,
                admit=admit,
                headers=headers,
                hooks=hooks,
            )
        finally:
            self._in_flight.dec()

    async def _handle(
        self,
        request: Request,
        send: Send,
        surface: Surface,
        *,
        path_model: str | None,
        path_stream: bool | None,
        body_limit: int | None,
        admit: Admitter | None,
        headers: Sequence[tuple[bytes, bytes]],
        hooks: CallHooks | None,
    ) -> None:
        ctx = self.context(request, surface)
        request_id, record = ctx.request_id, ctx.record
        extra_headers = request_id_headers(surface, request_id)
        extra_headers.extend(headers)
        try:
            await self.start(ctx, request)
            body = await request.json(body_limit or self._limit)
            if hooks is not None:
                await hooks.prepare(ctx, body)
            requested = path_model if path_model is not None else body.get("model")
            model = admit(ctx.principal, body) if admit is not None else self.admit(ctx.principal, requested)
            if isinstance(body.get("cache"), dict):  # LiteLLM's cache controls: for us, not the provider
                ctx.cache_control = body.pop("cache")
            ctx.requested_model = requested if isinstance(requested, str) else model
            record.model_group = model
            model = self.route(ctx, body, model)
            gatekeeper = self._chat.gatekeeper
            if gatekeeper is not None:
                await gatekeeper.admit(ctx, body, model)
            stream = path_stream if path_stream is not None else body.get("stream") is True
            record.stream = stream
            user = body.get("user")
            if isinstance(user, str):
                record.end_user = user
            if stream:
                relay = await self._chat.open_stream(ctx, body, model)
            else:
                out = await self._chat.complete(ctx, body, model)
                if hooks is not None:
                    await hooks.answered(ctx, out)
                await send_bytes(send, 200, out, headers=extra_headers + ctx.response_headers)
                return
        except BastionError as err:
            await self.fail(ctx, send, err, extra_headers)
            return
        except Exception:
            _log.exception("unexpected error while serving %s", request_id)
            await self.fail(
                ctx,
                send,
                InternalError(f"Bastion failed unexpectedly; request id {request_id}."),
                extra_headers,
            )
            return
        # Streaming: from here on the status line is sent, so failures travel in-band (the relay
        # writes them in the surface's format); anything else is a bug to log.
        try:
            frames = relay.run()
            await stream_response(
                send,
                request.receive,
                frames if hooks is None else hooks.stream(ctx, frames),
                headers=extra_headers + ctx.response_headers,
                on_disconnect=relay.client_gone,
                keepalive=surface.keepalive,
                keepalive_seconds=self._keepalive_seconds,
            )
        except Exception:
            _log.exception("stream %s failed unexpectedly", request_id)
            self._chat.finish(ctx, status=500, error=InternalError("stream failed"))

    async def fail(
        self, ctx: CallContext, send: Send, err: BastionError, extra_headers: list[tuple[bytes, bytes]]
    ) -> None:
        self._chat.finish(ctx, status=err.status, error=err)
        status, body, headers = ctx.surface.render_error(err)
        raw = [(k.encode(), v.encode()) for k, v in headers.items()] + extra_headers + ctx.response_headers
        await send_bytes(send, status, body, headers=raw)
