"""The generation endpoints of every surface: a thin adapter around the gateway's pipeline.

The same handler serves OpenAI chat completions, Anthropic messages, Gemini generateContent and
the browser token stream: it reads the caller's key and the body, hands both to the
:class:`~bastion.gateway.pipeline.Pipeline` (which owns the order of the steps and records the
call), and writes the answer, the stream or the error in the surface's format.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import orjson

from bastion.api.asgi import (
    ClientGone,
    Request,
    Send,
    send_bytes,
    stream_response,
    unencodable,
    unless_client_leaves,
)
from bastion.auth.keys import extract_key
from bastion.domain.errors import BastionError, InternalError
from bastion.domain.principal import Principal
from bastion.gateway.context import CallContext
from bastion.gateway.pipeline import Admitter, Pipeline
from bastion.gateway.relay import PassthroughRelay
from bastion.gateway.surfaces import Surface
from bastion.observability.metrics import Metrics

__all__ = ["Admitter", "CallHooks", "GenerationHandler", "request_key"]


class CallHooks(Protocol):
    """What a stateful surface (the Responses API) adds around the one pipeline."""

    async def prepare(self, ctx: CallContext, body: dict[str, Any]) -> None:
        """After authentication, before admission: read state the body refers to (and expand it)."""

    async def answered(self, ctx: CallContext, out: bytes) -> None:
        """A JSON answer is ready; runs before its bytes are sent."""

    def stream(self, ctx: CallContext, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Wraps a streamed answer's frames on their way to the client."""


_log = logging.getLogger("bastion.api")


def request_key(request: Request) -> str | None:
    """The key the caller sent: a header, or (the rare client that does) Gemini's ``?key=``."""
    key = extract_key(request.headers, None)
    if key is None and request.scope.get("query_string"):
        key = request.query.get("key")
    return key


class GenerationHandler:
    def __init__(
        self, *, pipeline: Pipeline, metrics: Metrics, body_limit: int, keepalive_seconds: float = 15.0
    ) -> None:
        self.pipeline = pipeline
        self._keepalive_seconds = keepalive_seconds
        self._in_flight = metrics.in_flight
        self._limit = body_limit

    async def authenticate(self, request: Request, *, browser: bool = False) -> Principal:
        """The caller (the client audience's guard in the route table)."""
        return await self.pipeline.principal(request_key(request), browser=browser)

    def admit(self, principal: Principal, model: Any) -> str:
        """Check the model exists and the caller may use it; return the model group name."""
        return self.pipeline.check_model(principal, model)

    def context(self, request: Request, surface: Surface) -> CallContext:
        return self.pipeline.context(surface, request.headers)

    async def start(self, ctx: CallContext, request: Request, *, browser: bool = False) -> None:
        """Authenticate the caller and note who it is on the record (``browser``: a browser token
        is accepted, on the browser room's endpoints only)."""
        await self.pipeline.authenticate(ctx, request_key(request), browser=browser)

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
        browser: bool = False,
    ) -> None:
        """Serve one generation call. ``body_limit``, ``admit`` and ``headers`` (added to every
        response) let a surface such as the browser token stream apply its own rules (``browser``:
        its callers may hold a browser token); ``hooks``
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
                browser=browser,
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
        browser: bool,
    ) -> None:
        pipeline = self.pipeline
        ctx = pipeline.context(surface, request.headers)
        request_id = ctx.request_id
        extra_headers = surface.request_id_headers(request_id)
        extra_headers.extend(headers)
        try:
            await self.start(ctx, request, browser=browser)
            body = await request.json(body_limit or self._limit)
            if hooks is not None:
                await hooks.prepare(ctx, body)
            requested = path_model if path_model is not None else body.get("model")
            model = await pipeline.admit(ctx, body, requested, check=admit, cache_controls=True)
            stream = path_stream if path_stream is not None else body.get("stream") is True
            ctx.stream = stream
            user = body.get("user")
            if isinstance(user, str):
                ctx.end_user = user
            if stream:
                relay = await pipeline.open_stream(ctx, body, model)
            else:
                # A client that hangs up cancels the upstream call and is billed as docs/operations.md says.
                out = await unless_client_leaves(request.receive, pipeline.complete(ctx, body, model))
                if hooks is not None:
                    await hooks.answered(ctx, out)
                await send_bytes(send, 200, out, headers=extra_headers + ctx.response_headers)
                return
        except ClientGone:
            pipeline.abandoned(ctx, body)
            return
        except BastionError as err:
            await self.fail(ctx, send, err, extra_headers)
            return
        except orjson.JSONEncodeError as exc:
            await self.fail(ctx, send, unencodable(exc), extra_headers)
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
            # Frames straight from the upstream's read callback, unless hooks see them on the way.
            through = relay.write_through if hooks is None and isinstance(relay, PassthroughRelay) else None
            await stream_response(
                send,
                request.receive,
                frames if hooks is None else hooks.stream(ctx, frames),
                headers=extra_headers + ctx.response_headers,
                on_disconnect=relay.client_gone,
                keepalive=surface.keepalive,
                keepalive_seconds=self._keepalive_seconds,
                write_through=through,
            )
        except Exception:
            _log.exception("stream %s failed unexpectedly", request_id)
            pipeline.finish(ctx, status=500, error=InternalError("stream failed"))

    async def fail(
        self, ctx: CallContext, send: Send, err: BastionError, extra_headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.pipeline.fail(ctx, err)
        status, body, headers = ctx.surface.render_error(err)
        raw = [(k.encode(), v.encode()) for k, v in headers.items()] + extra_headers + ctx.response_headers
        await send_bytes(send, status, body, headers=raw)
