"""Embeddings: OpenAI ``/v1/embeddings`` and Gemini ``embedContent`` on any provider that has them.

Same protocol both sides passes the body through (when the provider adapter can); otherwise the
texts go to the adapter's embeddings endpoint in its shape and the vectors come back in the
client's. Anthropic has no embeddings API, which is said plainly. Retries and fallbacks are the
chat pipeline's; the pipeline records the call once it answered.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.domain.errors import InvalidRequestError, UpstreamError
from bastion.domain.usage import Usage
from bastion.gateway.chat import ChatService
from bastion.gateway.context import CallContext
from bastion.protocols.gemini import embeddings as gemini_embeddings
from bastion.protocols.openai import embeddings as openai_embeddings
from bastion.protocols.token_estimate import estimate_tokens
from bastion.providers.base import ProviderAdapter, UpstreamRequest
from bastion.providers.http import HttpPool
from bastion.settings import Deployment

__all__ = ["EmbeddingsService"]


class EmbeddingsService:
    def __init__(self, chat: ChatService, http: HttpPool) -> None:
        self._chat = chat
        self._http = http

    async def openai(self, ctx: CallContext, body: dict[str, Any], model: str) -> bytes:
        req = openai_embeddings.decode_embeddings_request(body)

        async def attempt(dep: Deployment) -> bytes:
            adapter = self._chat.adapter_for(dep)
            upstream = None
            if adapter.protocol == ctx.surface.passthrough:
                upstream = adapter.embeddings_passthrough(dep, body)
            if upstream is not None:
                data = await self._post(adapter, dep, upstream)
                parsed = orjson.loads(data)
                usage = parsed.get("usage") or {}
                ctx.record.usage = Usage(input_tokens=int(usage.get("prompt_tokens") or 0))
                return data
            texts = _texts(req.inputs)
            vectors = await self._vectors(adapter, dep, texts, req.dimensions)
            tokens = _estimate(texts)
            ctx.record.usage = Usage(input_tokens=tokens)
            out = openai_embeddings.encode_embeddings_response(vectors, model, tokens, req.encoding_format)
            return orjson.dumps(out)

        return await self._chat.with_fallbacks(ctx, model, attempt)

    async def gemini(self, ctx: CallContext, body: dict[str, Any], model: str, *, batch: bool) -> bytes:
        texts = (
            gemini_embeddings.decode_batch_embed_request(body)
            if batch
            else gemini_embeddings.decode_embed_content_request(body, model)
        )
        dimensions = body.get("outputDimensionality") or body.get("output_dimensionality")

        async def attempt(dep: Deployment) -> bytes:
            adapter = self._chat.adapter_for(dep)
            vectors = await self._vectors(
                adapter, dep, texts, dimensions if isinstance(dimensions, int) else None
            )
            ctx.record.usage = Usage(input_tokens=_estimate(texts))
            if batch:
                return orjson.dumps(gemini_embeddings.encode_batch_embed_response(vectors))
            return orjson.dumps(gemini_embeddings.encode_embed_content_response(vectors[0]))

        return await self._chat.with_fallbacks(ctx, model, attempt)

    async def _vectors(
        self, adapter: ProviderAdapter, dep: Deployment, texts: list[str], dimensions: int | None
    ) -> list[list[float]]:
        if adapter.local is not None:
            return adapter.local.embed(texts, dimensions)
        upstream = adapter.embeddings_request(dep, texts, dimensions)
        if upstream is None:
            raise InvalidRequestError(
                f"Model group served by provider '{dep.provider_alias}' has no embeddings API; "
                "use an OpenAI- or Gemini-backed model group for embeddings."
            )
        return adapter.vectors(orjson.loads(await self._post(adapter, dep, upstream)))

    async def _post(self, adapter: ProviderAdapter, dep: Deployment, upstream: UpstreamRequest) -> bytes:
        status, resp_headers, data = await self._http.post(
            upstream.url, upstream.body, upstream.headers, timeout=self._chat.timeout_for(dep)
        )
        if status >= 400:
            raise adapter.error(status, data, resp_headers)
        if not data:
            raise UpstreamError("The provider sent an empty embeddings answer.", status=502)
        return data


def _estimate(texts: list[str]) -> int:
    """Input tokens of texts embedded by a provider that reports none (at least one a text)."""
    return sum(max(estimate_tokens(len(t)), 1) for t in texts)


def _texts(inputs: list[Any]) -> list[str]:
    texts = [item for item in inputs if isinstance(item, str)]
    if len(texts) != len(inputs):
        raise InvalidRequestError(
            "Token-id inputs can only be sent to OpenAI-compatible embedding models; send text instead.",
            param="input",
        )
    return texts
