"""The browser room's routes: ``POST /api/anthropic``, ``POST /api/openai`` (token streams, with
CORS and their preflights), ``POST /api/token`` (minting) and the demo's static files.

Thin: each handler checks the origin, then hands the call to the shared generation pipeline with
the browser's own admission rules (allowlisted models, capped ``max_tokens``, a small body).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bastion.api.asgi import Request, Send, send_bytes, send_json
from bastion.api.browser.admission import BodyRules
from bastion.api.browser.cors import CorsPolicy
from bastion.api.browser.minting import TokenMint
from bastion.api.browser.static import StaticFiles
from bastion.api.generation import Admitter, GenerationHandler, request_id_headers
from bastion.auth.browser_tokens import BrowserTokens
from bastion.domain.errors import BastionError, InternalError, PermissionDeniedError, RequestTooLargeError
from bastion.gateway.context import new_request_id
from bastion.gateway.router import Router
from bastion.gateway.surfaces import TOKENSTREAM_ANTHROPIC, TOKENSTREAM_OPENAI, Surface
from bastion.observability.metrics import Metrics
from bastion.settings import BrowserSettings

__all__ = ["BrowserApi"]

_log = logging.getLogger("bastion.api")
Handler = Callable[[Request, Send], Awaitable[None]]
_TOKEN_BODY_LIMIT = 16 * 1024


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
        self._admit: dict[str, Admitter] = {
            "anthropic": self._rules.admitter("anthropic"),
            "openai": self._rules.admitter("openai"),
        }
        self._mint = TokenMint(settings, tokens, self._rules)
        self._static = StaticFiles(settings.static_files)

    def routes(self) -> dict[str, dict[str, Handler]]:
        s = self._settings
        return {
            "POST": {
                s.anthropic_path: self._anthropic,
                s.openai_path: self._openai,
                s.token_path: self._token,
            },
            "OPTIONS": {s.anthropic_path: self._preflight, s.openai_path: self._preflight},
        }

    async def _anthropic(self, request: Request, send: Send) -> None:
        await self._stream(request, send, TOKENSTREAM_ANTHROPIC)

    async def _openai(self, request: Request, send: Send) -> None:
        await self._stream(request, send, TOKENSTREAM_OPENAI)

    async def _stream(self, request: Request, send: Send, surface: Surface) -> None:
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
            path_stream=True,
            body_limit=limit,
            admit=self._admit[surface.dialect],
            headers=cors,
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
        try:
            minter = await self._gen.authenticate(request)
            body = await request.json(_TOKEN_BODY_LIMIT)
            answer = self._mint.mint(minter, body)
        except BastionError as err:
            await self._error(send, err, [])
            return
        except Exception:
            _log.exception("minting a browser token failed")
            await self._error(send, InternalError("Minting the browser token failed."), [])
            return
        self._metrics.browser_tokens.labels(minter.kind).inc()
        await send_json(send, 200, answer, headers=[(b"cache-control", b"no-store")])

    async def static(self, request: Request, send: Send) -> bool:
        """Serve a demo file if the path is under a ``static_files`` prefix; False if it is not."""
        found = self._static.find(request.scope["path"])
        if found is None:
            return False
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
            return True
        headers = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-cache")]
        await send_bytes(
            send, status, body if request.method == "GET" else b"", content_type=kind, headers=headers
        )
        return True

    async def _error(self, send: Send, err: BastionError, extra: list[tuple[bytes, bytes]]) -> None:
        status, body, headers = TOKENSTREAM_OPENAI.render_error(err)
        raw = [(k.encode(), v.encode()) for k, v in headers.items()] + extra
        raw += request_id_headers(TOKENSTREAM_OPENAI, new_request_id())
        await send_bytes(send, status, body, headers=raw)
