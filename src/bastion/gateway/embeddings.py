"""Embeddings, for every surface that declares them, on any provider that has them.

The surface's codec (its protocol package's :class:`~bastion.protocols.embeddings.EmbeddingsCodec`)
decodes the client's body to a canonical :class:`~bastion.protocols.embeddings.EmbeddingsCall`.
Same protocol both sides passes the body through (when the codec allows it and the provider adapter
can); otherwise the texts go to the adapter's embeddings endpoint in its shape and the vectors come
back in the client's. A provider without embeddings is said plainly. Retries and fallbacks are the
chat pipeline's; the pipeline records the call once it answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from bastion.domain.errors import InvalidRequestError, UpstreamError
from bastion.domain.usage import Usage
from bastion.gateway.chat import ChatService
from bastion.gateway.context import CallContext
from bastion.protocols.embeddings import EmbeddingsCodec
from bastion.protocols.token_estimate import estimate_tokens
from bastion.providers.base import ProviderAdapter, UpstreamRequest
from bastion.providers.http import HttpPool
from bastion.settings import Deployment

__all__ = ["EmbeddingsService"]


class EmbeddingsService:
    def __init__(self, chat: ChatService, http: HttpPool) -> None:
        self._chat = chat
        self._http = http

    async def embed(
        self, ctx: CallContext, body: dict[str, Any], model: str, codec: EmbeddingsCodec
    ) -> bytes:
        """Embed what ``body`` (written in ``codec``'s protocol) asks for, with model group ``model``."""
        call = codec.decode(body, model)

        async def attempt(dep: Deployment) -> bytes:
            adapter = self._chat.adapter_for(dep)
            upstream = None
            if call.passthrough and adapter.protocol == ctx.surface.passthrough:
                upstream = adapter.embeddings_passthrough(dep, body)
            if upstream is not None:
                data = await self._post(adapter, dep, upstream)
                ctx.record.usage = Usage(input_tokens=codec.passthrough_tokens(orjson.loads(data)))
                return data
            texts = _texts(call.inputs)
            vectors = await self._vectors(adapter, dep, texts, call.dimensions)
            tokens = _estimate(texts)
            ctx.record.usage = Usage(input_tokens=tokens)
            return codec.encode(vectors, model, tokens, call)

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


def _texts(inputs: Sequence[Any]) -> list[str]:
    texts = [item for item in inputs if isinstance(item, str)]
    if len(texts) != len(inputs):
        raise InvalidRequestError(
            "Token-id inputs can only be sent to OpenAI-compatible embedding models; send text instead.",
            param="input",
        )
    return texts
