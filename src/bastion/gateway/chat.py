"""The generation pipeline: pick a deployment, call it (pass-through or translated), retry and fall
back on failure, and account for what the call consumed.

Same protocol on both sides is a pass-through: the client's body goes upstream with only the model
(and, for OpenAI streams, the usage request) changed, and the answer comes back byte for byte.
Otherwise the body is decoded once into the canonical form and each attempt encodes it for its
provider. Nothing reaches the client before an attempt has succeeded, so every failure up to the
first streamed frame can still be retried or fall back.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import orjson

from bastion.accounting.recorder import UsageRecorder
from bastion.domain.errors import (
    BastionError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeoutError,
)
from bastion.domain.usage import Usage
from bastion.gateway.admission import Gatekeeper
from bastion.gateway.cache import ResponseCache
from bastion.gateway.cached_answer import replay
from bastion.gateway.context import CallContext
from bastion.gateway.credentials import CredentialChooser, SystemKeys
from bastion.gateway.relay import PassthroughRelay, StreamRelay, TranslatingRelay
from bastion.gateway.retry import RetryPolicy, may_try_elsewhere, should_retry
from bastion.gateway.router import Router, wildcard_part
from bastion.observability.metrics import Metrics
from bastion.protocols.canonical import ChatRequest, StreamEvent
from bastion.protocols.sse import FrameSplitter, parse_frame
from bastion.protocols.token_estimate import estimate_body_tokens
from bastion.providers.base import ProviderAdapter, UpstreamRequest
from bastion.providers.http import HttpPool
from bastion.providers.openai_responses import ResponsesAdapter, speaks_responses
from bastion.settings import Deployment, Settings

__all__ = ["ChatService"]

_log = logging.getLogger("bastion.gateway")
_T = TypeVar("_T")
#: Label combinations whose metric children are kept (groups x deployments: bounded by the config;
#: past this, looked up each time).
_CHILDREN_CACHED = 4096


class _Request:
    """The client's body and, decoded on first need, its canonical form."""

    __slots__ = ("_canonical", "body", "model", "stream")

    def __init__(self, body: dict[str, Any], model: str, stream: bool) -> None:
        self.body = body
        self.model = model
        self.stream = stream
        self._canonical: ChatRequest | None = None

    def canonical(self, ctx: CallContext) -> ChatRequest:
        if self._canonical is None:
            self._canonical = ctx.surface.decode_request(self.body, self.model, stream=self.stream)
        return self._canonical


class ChatService:
    def __init__(
        self,
        settings: Settings,
        *,
        router: Router,
        http: HttpPool,
        adapters: dict[str, ProviderAdapter],
        recorder: UsageRecorder,
        metrics: Metrics,
        gatekeeper: Gatekeeper | None = None,
        cache: ResponseCache | None = None,
        credentials: CredentialChooser | None = None,
    ) -> None:
        self._settings = settings
        self._router = router
        self._http = http
        self._adapters = adapters
        self._responses: ProviderAdapter = ResponsesAdapter()
        self._recorder = recorder
        self._metrics = self.metrics = metrics
        self._policy = RetryPolicy(num_retries=settings.num_retries, min_wait=settings.retry_after)
        #: Admits a request (credit, rate limits, budget reservation) and settles it when recorded.
        self.gatekeeper = gatekeeper
        #: Picks each attempt's provider key: the user's own, the stored system key, the config's.
        self.credentials = credentials if credentials is not None else CredentialChooser(SystemKeys())
        #: The response cache, when ``litellm_settings.cache`` is on.
        self.cache = cache
        #: ``bastion_upstream_attempts{outcome="ok"}`` per model group and deployment, looked up once
        #: (``labels()`` takes a lock and builds a tuple on every call, on the way to the answer).
        self._attempts_ok: dict[tuple[str, str], Any] = {}

    # ------------------------------------------------------------------ public entry points

    async def complete(self, ctx: CallContext, body: dict[str, Any], model: str) -> bytes:
        """A non-streaming call; returns the client's response body. Records the request."""
        req = _Request(body, model, stream=False)
        if self.cache is not None and (hit := await self.cache.begin(ctx, body, model)) is not None:
            out = ctx.surface.encode_response(hit, model)
            self.finish(ctx)
            return out
        return await self.with_fallbacks(ctx, model, lambda dep: self._complete_once(ctx, req, dep))

    async def open_stream(self, ctx: CallContext, body: dict[str, Any], model: str) -> StreamRelay:
        """A streaming call; returns once the first upstream frame is in hand."""
        req = _Request(body, model, stream=True)
        if self.cache is not None and (hit := await self.cache.begin(ctx, body, model)) is not None:
            encoder = ctx.surface.stream_encoder(model, body)
            return TranslatingRelay(ctx, replay(hit), encoder, self.finish, _input_estimator(req))
        return await self.with_fallbacks(ctx, model, lambda dep: self._open_stream_once(ctx, req, dep))

    def finish(self, ctx: CallContext, *, status: int = 200, error: BastionError | None = None) -> None:
        """Record the request once: status, latency, usage and cost go to logs and metrics."""
        if ctx.recorded:
            return
        ctx.recorded = True
        record = ctx.record
        record.stream, record.end_user = ctx.stream, ctx.end_user
        record.status = status
        if error is not None:
            record.error_kind = error.kind
        record.latency_ms = ctx.elapsed_ms()
        record.cost_usd = self._recorder.cost(record)
        self._recorder.record(record)
        if record.deployment_id is not None and not record.cache_hit:
            self._router.health.used(record.deployment_id, tokens=record.usage.total_tokens)
        if self.gatekeeper is not None:
            self.gatekeeper.finish(ctx)

    def abandoned(self, ctx: CallContext, body: dict[str, Any]) -> None:
        """Record a non-streamed call whose client hung up before the answer (its upstream call
        was cancelled): status 499, ``client_disconnected``, and, when a provider was called, the
        prompt's estimated input tokens and no output (``usage_estimated``), so it costs what the
        provider may bill for the input it read."""
        record = ctx.record
        record.client_disconnected = True
        if ctx.recorded:
            return
        if record.deployment_id is not None and not record.cache_hit:
            record.usage_estimated = True
            record.usage = Usage(input_tokens=_input_estimator(_Request(body, "", stream=False))())
        self.finish(ctx, status=499)

    # ------------------------------------------------------------------ retries and fallbacks

    async def with_fallbacks(
        self, ctx: CallContext, model: str, attempt: Callable[[Deployment], Awaitable[_T]]
    ) -> _T:
        router, metrics = self._router, self._metrics
        chain = router.chain(model)
        last: BastionError | None = None
        for position, group in enumerate(chain):
            if position:
                metrics.fallbacks.labels(model, group).inc()
                ctx.record.fallback_group = group
                _log.info("falling back from %s to %s after: %s", model, group, last)
            deployments = router.group(group)
            if position < len(chain) - 1 and router.all_cooling(deployments):
                _log.info("every deployment of %s is cooling down; falling back", group)
                continue
            failed: set[str] = set()
            for retry in range(self._policy.num_retries + 1):
                if retry:
                    metrics.retries.labels(group).inc()
                dep = router.pick(deployments, failed)
                if "*" in dep.model:
                    dep = _expand_wildcard(dep, group, ctx.requested_model)
                dep, ctx.record.user_key = self.credentials.choose(dep, ctx.user_keys)
                ctx.record.attempts += 1
                self._describe(ctx, dep)
                router.in_flight[dep.deployment_id] = router.in_flight.get(dep.deployment_id, 0) + 1
                started = time.perf_counter()
                try:
                    result = await attempt(dep)
                except BastionError as err:
                    last = err
                    metrics.upstream_attempts.labels(group, dep.deployment_id, "error").inc()
                    if isinstance(err, UpstreamTimeoutError):
                        metrics.timeouts.labels(group).inc()
                    if not may_try_elsewhere(err):
                        raise
                    if router.health.failed(dep.deployment_id, err):
                        metrics.cooldowns.labels(group, dep.deployment_id).inc()
                    failed.add(dep.deployment_id)
                    if len(failed) >= len(deployments):
                        wait = self._policy.wait(retry, err) if should_retry(err) else None
                        if wait is None or retry == self._policy.num_retries:
                            break
                        await asyncio.sleep(wait)
                        failed.clear()
                    continue
                finally:
                    router.in_flight[dep.deployment_id] -= 1
                ok = self._attempts_ok.get((group, dep.deployment_id))
                if ok is None:
                    ok = metrics.upstream_attempts.labels(group, dep.deployment_id, "ok")
                    if len(self._attempts_ok) < _CHILDREN_CACHED:
                        self._attempts_ok[group, dep.deployment_id] = ok
                ok.inc()
                router.health.succeeded(dep.deployment_id, time.perf_counter() - started)
                return result
        assert last is not None
        raise last

    @staticmethod
    def _describe(ctx: CallContext, dep: Deployment) -> None:
        record = ctx.record
        record.provider = dep.provider_alias
        record.deployment_id = dep.deployment_id
        record.upstream_model = dep.model

    # ------------------------------------------------------------------ one attempt

    def adapter_for(self, dep: Deployment) -> ProviderAdapter:
        return self._adapters[dep.provider]

    def _adapter(self, ctx: CallContext, dep: Deployment) -> ProviderAdapter:
        """The adapter for this call: a Responses API call to a deployment that speaks it goes
        to its ``/responses`` (a pass-through); every other call to the deployment's protocol."""
        if ctx.surface.passthrough == self._responses.protocol and speaks_responses(dep):
            return self._responses
        return self._adapters[dep.provider]

    def _drop_params(self, dep: Deployment) -> bool:
        value = dep.defaults.get("drop_params")
        return self._settings.drop_params if value is None else bool(value)

    def _upstream_request(
        self, ctx: CallContext, req: _Request, dep: Deployment
    ) -> tuple[UpstreamRequest, bool, bool]:
        """Build the upstream call from a fresh copy of the request. The flags say whether it is a
        pass-through, and whether the usage frame asked for on the client's behalf is kept back."""
        adapter = self._adapter(ctx, dep)
        if adapter.protocol == ctx.surface.passthrough:
            body, strip_usage = ctx.surface.passthrough_body(req.body, dep.defaults, stream=req.stream)
            upstream = adapter.chat_request(dep, body, stream=req.stream, client_headers=ctx.headers)
            return upstream, True, strip_usage
        canonical = _with_defaults(req.canonical(ctx), dep)
        payload = adapter.encode(canonical, dep, drop_params=self._drop_params(dep))
        return adapter.chat_request(dep, payload, stream=req.stream, client_headers=ctx.headers), False, False

    async def _complete_once(self, ctx: CallContext, req: _Request, dep: Deployment) -> bytes:
        adapter = self._adapter(ctx, dep)
        local = adapter.local
        if local is not None:
            resp = local.complete(_with_defaults(req.canonical(ctx), dep), dep)
            ctx.record.usage = resp.usage
            out = ctx.surface.encode_response(resp, req.model)
            if ctx.cache is not None and self.cache is not None:
                self.cache.keep(ctx, lambda: resp)
            self.finish(ctx)
            return out
        upstream, passthrough, _ = self._upstream_request(ctx, req, dep)
        status, headers, data = await self._http.post(
            upstream.url, upstream.body, upstream.headers, timeout=self.timeout_for(dep)
        )
        if status >= 400:
            raise adapter.error(status, data, headers)
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("The provider answered with something that is not JSON.", status=502) from exc
        if passthrough:
            ctx.record.usage = adapter.usage(parsed)
            out = data
            if ctx.cache is not None and self.cache is not None:
                self.cache.keep(ctx, lambda: adapter.decode(parsed))
        else:
            resp = adapter.decode(parsed)
            ctx.record.usage = resp.usage
            out = ctx.surface.encode_response(resp, req.model)
            if ctx.cache is not None and self.cache is not None:
                self.cache.keep(ctx, lambda: resp)
        self.finish(ctx)
        return out

    async def _open_stream_once(self, ctx: CallContext, req: _Request, dep: Deployment) -> StreamRelay:
        estimate = _input_estimator(req)
        adapter = self._adapter(ctx, dep)
        local = adapter.local
        if local is not None:
            events = local.stream(_with_defaults(req.canonical(ctx), dep), dep)
            if ctx.cache is not None and self.cache is not None:
                events = self.cache.tap(ctx, events)
            encoder = ctx.surface.stream_encoder(req.model, req.body, ctx.elapsed_ms)
            return TranslatingRelay(ctx, events, encoder, self.finish, estimate)
        upstream, passthrough, strip_usage = self._upstream_request(ctx, req, dep)
        timeout = self.timeout_for(dep)
        stream = await self._http.open_stream(
            upstream.url,
            upstream.body,
            upstream.headers,
            first_byte_timeout=self._stream_timeout(dep),
            idle_timeout=timeout,
        )
        try:
            if stream.status >= 400:
                data = await stream.read_all()
                raise adapter.error(stream.status, data, stream.headers)
            chunks = stream.chunks()
            splitter = FrameSplitter()
            first: list[bytes] = []
            while not first:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    raise UpstreamConnectionError(
                        "The provider closed the stream before sending anything."
                    ) from None
                first = splitter.feed(chunk)
        except BaseException:
            stream.close()
            raise
        if passthrough:
            sniffer = adapter.sniffer(strip_usage_chunk=strip_usage)
            observer = None
            if ctx.cache is not None and self.cache is not None:
                observer = self.cache.observer(ctx, adapter.event_decoder())
            return PassthroughRelay(
                ctx, stream, chunks, splitter, first, sniffer, self.finish, estimate, observer=observer
            )
        events = _decode_frames(adapter, chunks, splitter, first)
        if ctx.cache is not None and self.cache is not None:
            events = self.cache.tap(ctx, events)
        encoder = ctx.surface.stream_encoder(req.model, req.body, ctx.elapsed_ms)
        return TranslatingRelay(ctx, events, encoder, self.finish, estimate, on_close=stream.close)

    def timeout_for(self, dep: Deployment) -> float:
        return dep.timeout or self._settings.timeout

    def _stream_timeout(self, dep: Deployment) -> float:
        return dep.stream_timeout or self._settings.stream_timeout or self.timeout_for(dep)


async def _decode_frames(
    adapter: ProviderAdapter, chunks: AsyncIterator[bytes], splitter: FrameSplitter, first: list[bytes]
) -> AsyncIterator[StreamEvent]:
    decoder = adapter.event_decoder()
    frames = first
    while True:
        for frame in frames:
            event, data = parse_frame(frame)
            if data is not None:
                for out in decoder.feed(event, data):
                    yield out
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            break
        frames = splitter.feed(chunk)
    for frame in splitter.finish():
        event, data = parse_frame(frame)
        if data is not None:
            for out in decoder.feed(event, data):
                yield out
    for out in decoder.finish():
        yield out


def _expand_wildcard(dep: Deployment, group: str, requested: str) -> Deployment:
    """``openai/*`` served ``openai/gpt-4o``: the upstream model is what the ``*`` matched."""
    part = wildcard_part(group, requested) if "*" in group else None
    return replace(dep, model=dep.model.replace("*", part if part is not None else requested))


def _with_defaults(canonical: ChatRequest, dep: Deployment) -> ChatRequest:
    """A fresh copy of the request with the deployment's defaults filled in.

    The decoded request is kept across attempts, so it is never changed: a fallback deployment must
    not receive the defaults of the one tried before it. The copy is shallow (encoders do not change
    what the fields hold), one per attempt.
    """
    req = copy.copy(canonical)
    defaults = dep.defaults
    if not defaults:
        return req
    if req.temperature is None and "temperature" in defaults:
        req.temperature = float(defaults["temperature"])
    if req.top_p is None and "top_p" in defaults:
        req.top_p = float(defaults["top_p"])
    if req.max_tokens is None and "max_tokens" in defaults:
        req.max_tokens = int(defaults["max_tokens"])
    if req.seed is None and "seed" in defaults:
        req.seed = int(defaults["seed"])
    if req.top_k is None and "top_k" in defaults:
        req.top_k = int(defaults["top_k"])
    return req


def _input_estimator(req: _Request) -> Callable[[], int]:
    """The prompt estimate admission made, for a stream that broke before usage was reported."""

    def estimate() -> int:
        try:
            return estimate_body_tokens(req.body)[0]
        except TypeError:
            return 1

    return estimate
