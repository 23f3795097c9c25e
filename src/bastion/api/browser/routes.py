"""The browser room's endpoints: ``POST /api/anthropic``, ``POST /api/openai`` (token streams, with
CORS and their preflights), ``POST /api/token`` (minting) and the demo's static files, at the paths
``bastion_settings.browser`` names (the route table refuses one that another route already has).

Thin: each handler checks the origin, then hands the call to the shared generation pipeline with
the browser's own admission rules (allowlisted models, capped ``max_tokens``, a small body).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bastion.api.asgi import Request, Send, send_bytes, send_json
from bastion.api.browser.admission import BodyRules
from bastion.api.browser.cors import CorsPolicy
from bastion.api.browser.minting import TokenMint
from bastion.api.browser.static import StaticFiles
from bastion.api.endpoints import CLIENT, PUBLIC, Audience, Endpoint, Guard
from bastion.api.error_formats import surface_errors
from bastion.api.generation import Admitter, GenerationHandler
from bastion.auth.browser_tokens import BrowserTokens
from bastion.domain.errors import BastionError, NotFoundError, PermissionDeniedError, RequestTooLargeError
from bastion.gateway.context import new_request_id
from bastion.gateway.router import Router
from bastion.gateway.surfaces import Surface
from bastion.observability.metrics import Metrics
from bastion.protocols.tokenstream.surface import ANTHROPIC_BODIED, ERRORS, OPENAI_BODIED, TokenStream
from bastion.settings import BrowserSettings

__all__ = ["BrowserApi"]

_log = logging.getLogger("bastion.api")
_ERRORS = surface_errors(ERRORS)
#: The token streams the protocol declares, and the setting that may move each one's path.
_STREAMS = ((ANTHROPIC_BODIED, "anthropic_path"), (OPENAI_BODIED, "openai_path"))
Handler = Callable[[Request, Send], Awaitable[None]]
_TOKEN_BODY_LIMIT = 16 * 1024
_TOKEN_BODY = {
    "type": "object",
    "description": "Who the token is for and what it may do (docs/browser.md).",
    "properties": {
        "user": {"type": "string"},
        "models": {"type": "array", "items": {"type": "string"}},
        "max_budget": {"type": "number"},
        "ttl_seconds": {"type": "number"},
    },
    "additionalProperties": False,
}


class BrowserApi:
    def __init__(
        self,
        settings: BrowserSettings,
        *,
        generation: GenerationHandler,
        router: Router,
        tokens: BrowserTokens,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._gen = generation
        self._metrics = metrics
        self._cors = CorsPolicy(settings)
        refusals = metrics.browser_refusals
        self._rules = BodyRules(settings, router, lambda reason: refusals.labels(reason).inc())
        self._mint = TokenMint(settings, tokens, self._rules)
        self._static = StaticFiles(settings.static_files)

    def guards(self) -> Mapping[Audience, Guard]:
        return {}  # its callers are the client surfaces' (the pipeline authenticates the streams)

    def endpoints(self) -> list[Endpoint]:
        """The token streams and their preflights, minting, and the demo's static files; every
        path comes from ``bastion_settings.browser``, which the collision message names."""
        s = self._settings
        where = "bastion_settings.browser."

        def route(
            method: str, path: str, handler: Handler, setting: str, summary: str, **kw: Any
        ) -> Endpoint:
            kw.setdefault("audience", CLIENT)
            return Endpoint(
                method,
                path,
                handler,
                errors=_ERRORS,
                summary=summary,
                tag="tokenstream",
                source=where + setting,
                **kw,
            )

        found: list[Endpoint] = []
        for stream, setting in _STREAMS:
            path = getattr(s, setting)
            found.extend(
                route(
                    op.method,
                    path,
                    self._streamer(stream, op.stream),
                    setting,
                    op.summary,
                    inline_auth=True,
                    body=op.body,
                    produces=op.produces,
                )
                for op in stream.surface.operations
            )
            found.append(route("OPTIONS", path, self._preflight, setting, "CORS preflight", audience=PUBLIC))
        found.append(
            route("POST", s.token_path, self._token, "token_path", "Mint a browser token", body=_TOKEN_BODY)
        )
        found.extend(
            route(
                "GET",
                path,
                self._static_file,
                "static_files",
                "The demo's files",
                audience=PUBLIC,
                produces="text/html, text/javascript, text/css",
            )
            for prefix in self._static.prefixes
            for path in (prefix, prefix + "/{file:path}")
        )
        return found

    def _streamer(self, stream: TokenStream, path_stream: bool | None) -> Handler:
        admit = self._rules.admitter(stream)
        wire = stream.surface.wire

        async def handle(request: Request, send: Send) -> None:
            await self._stream(request, send, wire, admit, path_stream)

        return handle

    async def _stream(
        self, request: Request, send: Send, surface: Surface, admit: Admitter, path_stream: bool | None
    ) -> None:
        headers = request.headers
        if not self._cors.allows(headers):
            self._metrics.browser_refusals.labels("origin").inc()
            origin = headers.get("origin", "")
            await self._error(
                send,
                PermissionDeniedError(
                    f"Pages from {origin} may not call this endpoint "
                    "(it is not in bastion_settings.browser.cors_origins)."
                ),
                [],
            )
            return
        cors = self._cors.response_headers(headers)
        limit = self._settings.max_request_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            self._metrics.browser_refusals.labels("body").inc()
            await self._error(
                send,
                RequestTooLargeError(
                    f"The request body is larger than this endpoint's limit of {limit} bytes "
                    "(bastion_settings.browser.max_request_bytes)."
                ),
                cors,
            )
            return
        await self._gen.handle(
            request,
            send,
            surface,
            path_stream=path_stream,
            body_limit=limit,
            admit=admit,
            headers=cors,
            browser=True,
        )

    async def _preflight(self, request: Request, send: Send) -> None:
        allowed = self._cors.preflight(request.headers)
        if allowed is None:
            self._metrics.browser_refusals.labels("origin").inc()
            await send_bytes(send, 403, b"", content_type=b"text/plain")
            return
        await send({"type": "http.response.start", "status": 204, "headers": allowed})
        await send({"type": "http.response.body", "body": b""})

    async def _token(self, request: Request, send: Send) -> None:
        minter = request.caller
        answer = self._mint.mint(minter, await request.json(_TOKEN_BODY_LIMIT))
        self._metrics.browser_tokens.labels(minter.kind).inc()
        await send_json(send, 200, answer, headers=[(b"cache-control", b"no-store")])

    async def _static_file(self, request: Request, send: Send) -> None:
        """A demo file (``/prefix/`` serves ``index.html``; ``/prefix`` redirects there)."""
        found = self._static.find(request.scope["path"])
        if found is None:  # the table only sends paths under a prefix; the raw path agrees
            raise NotFoundError(f"There is no file {request.path} here.")
        status, body, kind = found
        if status == 308:
            await send(
                {
                    "type": "http.response.start",
                    "status": 308,
                    "headers": [(b"location", kind), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-cache")]
        await send_bytes(
            send, status, body if request.method == "GET" else b"", content_type=kind, headers=headers
        )

    async def _error(self, send: Send, err: BastionError, extra: list[tuple[bytes, bytes]]) -> None:
        status, body, headers = ERRORS.wire.render_error(err)
        raw = [(k.encode(), v.encode()) for k, v in headers.items()] + extra
        raw += ERRORS.wire.request_id_headers(new_request_id())
        await send_bytes(send, status, body, headers=raw)
