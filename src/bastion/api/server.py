"""The ASGI application: the client surfaces' handlers and the gateway's one route table.

Every router's endpoints go into one :class:`~bastion.api.endpoints.EndpointTable` built here;
:class:`~bastion.api.dispatch.Dispatcher` serves HTTP from it (fixed paths by one dict lookup,
405s, 404s in the family's format, overload control, the audience guards, the error boundary).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from bastion import tasks
from bastion.accounting.pricing import PriceBook
from bastion.accounting.spend_writer import SpendWriter
from bastion.api import catalog, health, schemas
from bastion.api import surfaces as registry
from bastion.api.asgi import (
    ClientGone,
    Receive,
    Request,
    Scope,
    Send,
    send_bytes,
    send_json,
    unencodable,
    unless_client_leaves,
)
from bastion.api.dispatch import Dispatcher
from bastion.api.endpoints import CLIENT, MASTER, PUBLIC, Audience, Endpoint, EndpointTable, Guard, Handler
from bastion.api.error_formats import OPENAI_ERRORS, claimed_errors, surface_errors
from bastion.api.generation import GenerationHandler
from bastion.api.listings import LISTINGS, listing_endpoints
from bastion.api.openapi import openapi_document
from bastion.api.overload import Overload
from bastion.api.usage import usage_me
from bastion.domain.errors import BastionError, ConfigError, InternalError
from bastion.gateway.admission import Gatekeeper
from bastion.gateway.cache import ResponseCache
from bastion.gateway.context import CallContext
from bastion.gateway.pipeline import Work
from bastion.gateway.router import Router
from bastion.gateway.surfaces import Surface
from bastion.observability.metrics import CONTENT_TYPE, Metrics
from bastion.protocols.surface import Operation, SurfaceSpec
from bastion.secrets.scrubber import Scrubber
from bastion.settings import OverloadSettings
from bastion.store.database import Database

if TYPE_CHECKING:
    from bastion.billing.service import BillingService
    from bastion.gateway.health_shared import SharedHealth

__all__ = ["EndpointSource", "GatewayApp"]

_log = logging.getLogger("bastion.api")


class EndpointSource(Protocol):
    """A router that lists its endpoints and the guards of the audiences it owns."""

    def endpoints(self) -> list[Endpoint]: ...

    def guards(self) -> Mapping[Audience, Guard]: ...


Lifespan = Callable[[], AbstractAsyncContextManager[None]]

#: A handler for an operation kind the surfaces declare, and whether it authenticates the caller.
Operated = tuple[Handler, bool]


class GatewayApp:
    """The ASGI app: the client surfaces, health and metrics, and every other router's endpoints in
    one :class:`~bastion.api.endpoints.EndpointTable` (collisions refused here, at start-up).

    ``lifespan`` is the composition root's start-up and shut-down (an async context manager);
    ``overload`` the admission control that sheds new calls when the process is over capacity;
    ``scrubber`` removes the configured secrets from every byte answered.
    """

    def __init__(
        self,
        *,
        generation: GenerationHandler,
        routers: Sequence[EndpointSource] = (),
        router: Router,
        metrics: Metrics,
        body_limit: int,
        lifespan: Lifespan | None = None,
        dry_run: Handler | None = None,
        overload: OverloadSettings | None = None,
        scrubber: Scrubber | None = None,
        prices: PriceBook | None = None,
        gatekeeper: Gatekeeper | None = None,
        surfaces: Sequence[SurfaceSpec] | None = None,
        operations: Mapping[str, Operated] | None = None,
    ) -> None:
        #: The surfaces whose routes are built: the registration list unless given.
        self._surfaces = tuple(surfaces if surfaces is not None else registry.SURFACES)
        self._operations = dict(operations or {})
        self._gen = generation
        self._pipeline = pipeline = generation.pipeline
        self._prices = prices or PriceBook()
        self._embeddings = pipeline.embeddings
        self._tokens = pipeline.tokens
        #: Model groups and their deployments' health (the admin views read it).
        self.router = router
        self._router = router
        self._metrics = metrics
        self._limit = body_limit
        self._lifespan_context = lifespan
        self._dry_run = dry_run
        self.ready = False
        #: The pipeline's admission; tests reach its state (limits, reservations) through it.
        self.gatekeeper = gatekeeper
        #: Set by the composition root; tests reach the cache, health and the store through them.
        self.cache: ResponseCache | None = None
        self.shared_health: SharedHealth | None = None
        self.database: Database | None = None
        self.spend_writer: SpendWriter | None = None
        self.billing: BillingService | None = None
        guards: dict[Audience, Guard] = {CLIENT: generation.authenticate}
        endpoints = self.endpoints()
        for source in routers:
            endpoints.extend(source.endpoints())
            for audience, guard in source.guards().items():
                if audience in guards:
                    raise ConfigError(f"two guards for the '{audience.name}' audience")
                guards[audience] = guard
        #: Every route of the gateway (raises ConfigError on a collision).
        self.table = EndpointTable(endpoints, guards)
        self.overload = Overload(overload or OverloadSettings(), metrics)
        self._dispatch = Dispatcher(
            self.table, overload=self.overload, scrubber=scrubber, unknown=claimed_errors(self._surfaces)
        )
        self._openapi_document: bytes | None = None

    def endpoints(self) -> list[Endpoint]:
        """The registered surfaces' endpoints (``api/surfaces.py``) with their model listings,
        LiteLLM's ``/model_group/info``, health, metrics, ``/`` and ``/openapi.json``."""
        found: list[Endpoint] = []

        def add(paths: Sequence[str], method: str, handler: Handler, audience: Audience, **kw: Any) -> None:
            found.extend(Endpoint(method, path, handler, audience, **kw) for path in paths)

        s = schemas
        for spec in self._surfaces:
            errors = surface_errors(spec.errors)
            for op in spec.operations:
                if op.kind in LISTINGS:
                    continue  # one route per path, whichever surfaces list there (below)
                handler, inline = self._operation(spec, op)
                add(
                    op.paths,
                    op.method,
                    handler,
                    CLIENT,
                    errors=errors,
                    tag=spec.tag,
                    inline_auth=inline,
                    summary=op.summary,
                    body=op.body,
                    produces=op.produces,
                    query=op.query,
                )
        found.extend(listing_endpoints(self._surfaces, self._router, self._gen.admit))
        add(
            ("/model_group/info",),
            "GET",
            self._model_group_info,
            CLIENT,
            errors=OPENAI_ERRORS,
            tag="openai",
            summary="Model groups the caller may use, with limits, prices and capabilities (LiteLLM's shape)",
        )
        add(
            ("/v1/usage/me",),
            "GET",
            self._usage_me,
            CLIENT,
            errors=OPENAI_ERRORS,
            tag="openai",
            summary="The caller's plan, and the token quota and budget left with their reset times",
            query=("user",),
        )
        if self._dry_run is not None:
            add(
                ("/routing/dry-run",),
                "POST",
                self._dry_run,
                MASTER,
                errors=OPENAI_ERRORS,
                tag="management",
                summary="Where a request would be routed, without sending it",
                body=s.DRY_RUN,
            )
        for path, handler, summary in (
            ("/health/liveliness", self._liveliness, "Liveness (LiteLLM's path)"),
            ("/health/liveness", self._liveliness, "Liveness"),
            ("/health/readiness", self._readiness, "Readiness: 503 until started"),
            ("/metrics", self._metrics_page, "Prometheus metrics"),
            ("/", self._root, "What this server is"),
        ):
            add(
                (path,),
                "GET",
                handler,
                PUBLIC,
                errors=OPENAI_ERRORS,
                tag="health",
                summary=summary,
                shed=False,
                produces="text/plain" if path == "/metrics" else s.JSON,
            )
        add(
            ("/openapi.json",),
            "GET",
            self._openapi,
            PUBLIC,
            errors=OPENAI_ERRORS,
            tag="meta",
            summary="This API's OpenAPI document",
        )
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._dispatch(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Start-up and shut-down: the composition root's context, then the overload watch."""
        stack = AsyncExitStack()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._lifespan_context is not None:
                        await stack.enter_async_context(self._lifespan_context())
                    if self.overload.watches_lag:
                        watch = tasks.spawn_service(self.overload.watch(), name="overload-watch")
                        stack.callback(watch.cancel)
                except Exception as exc:
                    _log.exception("start-up failed")
                    await stack.aclose()
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                try:
                    await stack.aclose()
                except Exception:
                    _log.exception("shut-down failed")
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ------------------------------------------------------------------ client surfaces

    def _operation(self, spec: SurfaceSpec, op: Operation) -> Operated:
        """The handler of a declared operation, and whether it authenticates the caller itself."""
        wire = spec.wire
        if op.kind == "chat":

            async def chat(request: Request, send: Send) -> None:
                model = request.params.get("model")
                await self._gen.handle(request, send, wire, path_model=model, path_stream=op.stream)

            return chat, True
        if op.kind == "embeddings":
            codec = op.codec
            if codec is None:
                raise ConfigError(f"surface '{spec.tag}' declares embeddings but no codec")

            async def embed(ctx: CallContext, body: dict[str, Any], group: str) -> bytes:
                return await self._embeddings.embed(ctx, body, group, codec)

            async def embeddings(request: Request, send: Send) -> None:
                await self._guarded(request, send, wire, request.params.get("model"), embed)

            return embeddings, True
        if op.kind == "count_tokens":
            pick, answer = spec.count_body, spec.count_answer
            if pick is None or answer is None:
                raise ConfigError(
                    f"surface '{spec.tag}' counts tokens but declares no count_body/count_answer"
                )

            async def work(ctx: CallContext, body: dict[str, Any], group: str) -> bytes:
                return answer(await self._tokens.count(ctx, pick(body), group))

            async def count_tokens(request: Request, send: Send) -> None:
                await self._guarded(request, send, wire, request.params.get("model"), work, limited=False)

            return count_tokens, True
        found = self._operations.get(op.kind)
        if found is None:
            raise ConfigError(f"no handler for the '{op.kind}' operation of surface '{spec.tag}'")
        return found

    async def _guarded(
        self,
        request: Request,
        send: Send,
        surface: Surface,
        path_model: str | None,
        work: Work,
        *,
        limited: bool = True,
    ) -> None:
        """Embeddings and token counts through the pipeline; errors in ``surface``'s format.

        ``limited`` calls (embeddings) count against the key's rate limits and budgets; token
        counting does not, as it costs nothing upstream. Neither takes the routing rules."""
        ctx = self._gen.context(request, surface)
        headers = surface.request_id_headers(ctx.request_id)
        try:
            await self._gen.start(ctx, request)
            body = await request.json(self._limit)
            requested = path_model if path_model is not None else body.get("model")
            group = await self._pipeline.admit(ctx, body, requested, route=False, limited=limited)
            # A client that hangs up cancels the upstream call (embeddings cost money too).
            out = await unless_client_leaves(request.receive, self._pipeline.run(ctx, body, group, work))
        except ClientGone:
            self._pipeline.abandoned(ctx, body)
            return
        except BastionError as err:
            await self._gen.fail(ctx, send, err, headers)
            return
        except orjson.JSONEncodeError as exc:
            await self._gen.fail(ctx, send, unencodable(exc), headers)
            return
        except Exception:
            _log.exception("unexpected error while serving %s", ctx.request_id)
            await self._gen.fail(
                ctx, send, InternalError(f"Bastion failed; request id {ctx.request_id}."), headers
            )
            return
        await send_bytes(send, 200, out, headers=headers)

    # ------------------------------------------------------------------ catalog, health, metrics

    async def _model_group_info(self, request: Request, send: Send) -> None:
        await send_json(send, 200, catalog.model_group_info(self._router, request.caller, self._prices))

    async def _usage_me(self, request: Request, send: Send) -> None:
        await usage_me(self.gatekeeper, request, send)

    async def _liveliness(self, request: Request, send: Send) -> None:
        await send_json(send, 200, health.liveliness())

    async def _readiness(self, request: Request, send: Send) -> None:
        # The database is reported, not required: calls go on (spend rows wait in the journal).
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

    async def _openapi(self, request: Request, send: Send) -> None:
        if self._openapi_document is None:
            self._openapi_document = orjson.dumps(openapi_document(self.table))
        await send_bytes(send, 200, self._openapi_document)
