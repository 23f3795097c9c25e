"""The ASGI application: routes every path to a thin handler.

Routing is a dict lookup for fixed paths and one prefix check for Gemini's
``/v1beta/models/{model}:{action}``; a trailing slash and a query string never matter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

import orjson

from bastion.accounting.spend_writer import SpendWriter
from bastion.api import catalog, health
from bastion.api.account import AccountApi
from bastion.api.asgi import Receive, Request, Scope, Send, send_bytes, send_json
from bastion.api.browser import BrowserApi
from bastion.api.generation import GenerationHandler, request_id_headers
from bastion.api.management import ManagementApi
from bastion.domain.errors import BastionError, InternalError, NotFoundError
from bastion.gateway.admission import Gatekeeper
from bastion.gateway.cache import ResponseCache
from bastion.gateway.context import CallContext, new_request_id
from bastion.gateway.embeddings import EmbeddingsService
from bastion.gateway.router import Router
from bastion.gateway.surfaces import ANTHROPIC, GEMINI, OPENAI, Surface
from bastion.gateway.tokens import TokenCounter
from bastion.observability.metrics import CONTENT_TYPE, Metrics
from bastion.providers.http import HttpPool
from bastion.store.database import Database

if TYPE_CHECKING:
    from bastion.billing.service import BillingService
    from bastion.gateway.health_shared import SharedHealth

__all__ = ["GatewayApp"]

_log = logging.getLogger("bastion.api")
Handler = Callable[[Request, Send], Awaitable[None]]


class Routes(Protocol):
    """Something with fixed routes to merge in (the admin dashboard, which sits above this layer)."""

    def routes(self) -> dict[str, dict[str, Handler]]: ...


_GEMINI_PREFIXES = ("/v1beta/models/", "/v1/models/", "/gemini/v1beta/models/")


class GatewayApp:
    def __init__(
        self,
        *,
        generation: GenerationHandler,
        embeddings: EmbeddingsService,
        management: ManagementApi | None = None,
        account: AccountApi | None = None,
        browser: BrowserApi | None = None,
        dashboard: Routes | None = None,
        tokens: TokenCounter,
        router: Router,
        metrics: Metrics,
        http: HttpPool,
        body_limit: int,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        dry_run: Handler | None = None,
    ) -> None:
        self._gen = generation
        self._embeddings = embeddings
        self._tokens = tokens
        #: Model groups and their deployments' health (the admin views read it).
        self.router = router
        self._router = router
        self._metrics = metrics
        self._http = http
        self._limit = body_limit
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self.ready = False
        #: Set by the composition root; tests reach the admission state and the store through them.
        self.gatekeeper: Gatekeeper | None = None
        self.cache: ResponseCache | None = None
        self.shared_health: SharedHealth | None = None
        self.database: Database | None = None
        self.spend_writer: SpendWriter | None = None
        self.billing: BillingService | None = None
        post: dict[str, Handler] = {}
        for path in ("/v1/chat/completions", "/chat/completions", "/openai/v1/chat/completions"):
            post[path] = self._openai_chat
        for path in ("/v1/embeddings", "/embeddings"):
            post[path] = self._openai_embeddings
        for path in ("/v1/messages", "/messages", "/anthropic/v1/messages"):
            post[path] = self._anthropic_messages
        for path in (
            "/v1/messages/count_tokens",
            "/messages/count_tokens",
            "/anthropic/v1/messages/count_tokens",
        ):
            post[path] = self._anthropic_count_tokens
        if dry_run is not None:
            post["/routing/dry-run"] = dry_run
        get: dict[str, Handler] = {
            "/v1/models": self._list_models,
            "/models": self._list_models,
            "/v1beta/models": self._gemini_models,
            "/health/liveliness": self._liveliness,
            "/health/liveness": self._liveliness,
            "/health/readiness": self._readiness,
            "/metrics": self._metrics_page,
            "/": self._root,
        }
        self._routes: dict[str, dict[str, Handler]] = {"POST": post, "GET": get, "HEAD": {"/": self._root}}
        self._management = management
        if management is not None:
            for method, table in management.routes().items():
                self._routes.setdefault(method, {}).update(table)
        self._account = account
        if account is not None:
            for method, table in account.routes().items():
                self._routes.setdefault(method, {}).update(table)
        if dashboard is not None:
            for method, table in dashboard.routes().items():
                self._routes.setdefault(method, {}).update(table)
        self._browser = browser
        if browser is not None:
            for method, table in browser.routes().items():
                self._routes.setdefault(method, {}).update(table)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            request = Request(scope, receive)
            path = request.path
            if len(path) > 1 and path.endswith("/"):
                path = request.path = path.rstrip("/")
            handler = self._routes.get(request.method, {}).get(path)
            if handler is not None:
                await handler(request, send)
                return
            await self._dynamic(request, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        await self._on_startup()
                except Exception as exc:
                    _log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                if self._on_shutdown is not None:
                    await self._on_shutdown()
                await self._http.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ------------------------------------------------------------------ client surfaces

    async def _openai_chat(self, request: Request, send: Send) -> None:
        await self._gen.handle(request, send, OPENAI)

    async def _anthropic_messages(self, request: Request, send: Send) -> None:
        await self._gen.handle(request, send, ANTHROPIC)

    async def _dynamic(self, request: Request, send: Send) -> None:
        path = request.path
        for prefix in _GEMINI_PREFIXES:
            if path.startswith(prefix) and ":" in path:
                model, _, action = unquote(path[len(prefix) :]).rpartition(":")
                if request.method == "POST" and model:
                    await self._gemini(request, send, model, action)
                    return
        if (
            self._browser is not None
            and request.method in ("GET", "HEAD")
            and await self._browser.static(request, send)
        ):
            return
        if self._management is not None:
            handler = self._management.find(request.method, path)
            if handler is not None:
                await handler(request, send)
                return
        if self._account is not None:
            handler = self._account.find(request.method, path)
            if handler is not None:
                await handler(request, send)
                return
        if request.method == "GET" and path.startswith("/v1/models/"):
            await self._get_model(request, send, unquote(path[len("/v1/models/") :]))
            return
        surface = _listing_surface(request)
        await self._error(
            send,
            surface,
            NotFoundError(f"There is no endpoint {request.method} {request.path} on this gateway."),
        )

    async def _gemini(self, request: Request, send: Send, model: str, action: str) -> None:
        if action == "generateContent":
            await self._gen.handle(request, send, GEMINI, path_model=model, path_stream=False)
        elif action == "streamGenerateContent":
            await self._gen.handle(request, send, GEMINI, path_model=model, path_stream=True)
        elif action in ("embedContent", "batchEmbedContents"):
            batch = action == "batchEmbedContents"
            await self._guarded(
                request,
                send,
                GEMINI,
                model,
                lambda ctx, body, group: self._embeddings.gemini(ctx, body, group, batch=batch),
            )
        elif action == "countTokens":
            await self._guarded(request, send, GEMINI, model, self._gemini_count, limited=False)
        else:
            await self._error(send, GEMINI, NotFoundError(f"Unknown Gemini method ':{action}'."))

    async def _openai_embeddings(self, request: Request, send: Send) -> None:
        await self._guarded(request, send, OPENAI, None, self._embeddings.openai)

    async def _anthropic_count_tokens(self, request: Request, send: Send) -> None:
        await self._guarded(request, send, ANTHROPIC, None, self._anthropic_count, limited=False)

    async def _anthropic_count(self, ctx: CallContext, body: dict[str, Any], group: str) -> bytes:
        body.setdefault("max_tokens", 1)  # count_tokens takes none; the shared decoder requires it
        count = await self._tokens.count(ctx, body, group)
        self._gen.finish(ctx)
        return orjson.dumps({"input_tokens": count})

    async def _gemini_count(self, ctx: CallContext, body: dict[str, Any], group: str) -> bytes:
        inner = body.get("generateContentRequest")
        count = await self._tokens.count(ctx, inner if isinstance(inner, dict) else body, group)
        self._gen.finish(ctx)
        return orjson.dumps({"totalTokens": count})

    async def _guarded(
        self,
        request: Request,
        send: Send,
        surface: Surface,
        path_model: str | None,
        work: Callable[[CallContext, dict[str, Any], str], Awaitable[bytes]],
        *,
        limited: bool = True,
    ) -> None:
        """Authenticate, admit and run ``work``; errors come out in ``surface``'s format.

        ``limited`` calls (embeddings) count against the key's rate limits and budgets; token
        counting does not, as it costs nothing upstream."""
        ctx = self._gen.context(request, surface)
        headers = request_id_headers(surface, ctx.request_id)
        try:
            await self._gen.start(ctx, request)
            body = await request.json(self._limit)
            requested = path_model if path_model is not None else body.get("model")
            ctx.record.model_group = group = self._gen.admit(ctx.principal, requested)
            ctx.requested_model = requested if isinstance(requested, str) else group
            if limited and self.gatekeeper is not None:
                await self.gatekeeper.admit(ctx, body, group)
            out = await work(ctx, body, group)
        except BastionError as err:
            await self._gen.fail(ctx, send, err, headers)
            return
        except Exception:
            _log.exception("unexpected error while serving %s", ctx.request_id)
            await self._gen.fail(
                ctx, send, InternalError(f"Bastion failed; request id {ctx.request_id}."), headers
            )
            return
        await send_bytes(send, 200, out, headers=headers)

    # ------------------------------------------------------------------ catalog, health, metrics

    async def _list_models(self, request: Request, send: Send) -> None:
        surface = _listing_surface(request)
        if surface is GEMINI:
            await self._gemini_models(request, send)
            return
        try:
            principal = await self._gen.authenticate(request)
        except BastionError as err:
            await self._error(send, surface, err)
            return
        if surface is ANTHROPIC:
            await send_json(send, 200, catalog.anthropic_models(self._router, principal))
        else:
            await send_json(send, 200, catalog.openai_models(self._router, principal))

    async def _get_model(self, request: Request, send: Send, name: str) -> None:
        try:
            principal = await self._gen.authenticate(request)
            self._gen.admit(principal, name)
        except BastionError as err:
            await self._error(send, OPENAI, err)
            return
        await send_json(send, 200, catalog.openai_model(name))

    async def _gemini_models(self, request: Request, send: Send) -> None:
        try:
            principal = await self._gen.authenticate(request)
        except BastionError as err:
            await self._error(send, GEMINI, err)
            return
        await send_json(send, 200, catalog.gemini_models(self._router, principal))

    async def _liveliness(self, request: Request, send: Send) -> None:
        await send_json(send, 200, health.liveliness())

    async def _readiness(self, request: Request, send: Send) -> None:
        # The database is reported, not required: calls go on (spend rows are spooled) while it is down.
        database = "not_configured"
        if self.database is not None:
            try:
                await asyncio.wait_for(self.database.ping(), 2.0)
                database = "connected"
            except (BastionError, TimeoutError):
                database = "disconnected"
        body = health.readiness(ready=self.ready, database=database)
        await send_json(send, 200 if self.ready else 503, body)

    async def _metrics_page(self, request: Request, send: Send) -> None:
        await send_bytes(send, 200, self._metrics.render(), content_type=CONTENT_TYPE.encode())

    async def _root(self, request: Request, send: Send) -> None:
        await send_json(
            send, 200, {"name": "bastion", "docs": "see README.md", "health": "/health/readiness"}
        )

    async def _error(self, send: Send, surface: Surface, err: BastionError) -> None:
        status, body, headers = surface.render_error(err)
        rid = new_request_id()
        raw = [(k.encode(), v.encode()) for k, v in headers.items()] + request_id_headers(surface, rid)
        await send_bytes(send, status, body, headers=raw)


def _listing_surface(request: Request) -> Surface:
    """``/v1/models`` is shared: Anthropic clients send anthropic-version, Google's send x-goog-* headers."""
    headers = request.headers
    if "anthropic-version" in headers:
        return ANTHROPIC
    if "x-goog-api-client" in headers or "x-goog-api-key" in headers:
        return GEMINI
    return OPENAI
