"""Embeddings: OpenAI ``/v1/embeddings`` and Gemini ``embedContent`` on any provider that has them.

Same protocol both sides passes the body through; otherwise the texts are sent in the provider's
shape and the vectors come back in the client's. Anthropic has no embeddings API, which is said
plainly. Retries and fallbacks are the chat pipeline's.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from bastion.domain.errors import InvalidRequestError, UpstreamError
from bastion.domain.usage import Usage
from bastion.gateway.chat import ChatService
from bastion.gateway.context import CallContext
from bastion.protocols.gemini import embeddings as gemini_embeddings
from bastion.protocols.openai import embeddings as openai_embeddings
from bastion.providers.http import HttpPool
from bastion.providers.openai import azure_api_version
from bastion.settings import Deployment

__all__ = ["EmbeddingsService", "mock_vector"]


def mock_vector(text: str, dims: int = 8) -> list[float]:
    """A deterministic unit-free vector for the offline mock provider."""
    out: list[float] = []
    seed = text.encode()
    while len(out) < dims:
        seed = hashlib.sha256(seed).digest()
        out.extend((b - 127.5) / 127.5 for b in seed)
    return [round(v, 6) for v in out[:dims]]


class EmbeddingsService:
    def __init__(self, chat: ChatService, http: HttpPool) -> None:
        self._chat = chat
        self._http = http

    async def openai(self, ctx: CallContext, body: dict[str, Any], model: str) -> bytes:
        req = openai_embeddings.decode_embeddings_request(body)

        async def attempt(dep: Deployment) -> bytes:
            if dep.provider == "openai":
                upstream = dict(body)
                upstream["model"] = dep.model
                data = await self._post(dep, _openai_path(dep), upstream, auth="bearer")
                parsed = orjson.loads(data)
                usage = parsed.get("usage") or {}
                ctx.record.usage = Usage(input_tokens=int(usage.get("prompt_tokens") or 0))
                self._chat.finish(ctx)
                return data
            texts = _texts(req.inputs)
            vectors = await self._vectors(dep, texts, req.dimensions)
            tokens = sum(max(len(t) // 4, 1) for t in texts)
            ctx.record.usage = Usage(input_tokens=tokens)
            out = openai_embeddings.encode_embeddings_response(vectors, model, tokens, req.encoding_format)
            self._chat.finish(ctx)
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
            vectors = await self._vectors(dep, texts, dimensions if isinstance(dimensions, int) else None)
            ctx.record.usage = Usage(input_tokens=sum(max(len(t) // 4, 1) for t in texts))
            self._chat.finish(ctx)
            if batch:
                return orjson.dumps(gemini_embeddings.encode_batch_embed_response(vectors))
            return orjson.dumps(gemini_embeddings.encode_embed_content_response(vectors[0]))

        return await self._chat.with_fallbacks(ctx, model, attempt)

    async def _vectors(self, dep: Deployment, texts: list[str], dimensions: int | None) -> list[list[float]]:
        if dep.provider == "mock":
            return [mock_vector(t, dimensions or 8) for t in texts]
        if dep.provider == "gemini":
            batch = gemini_embeddings.encode_embed_request(texts, dep.model, dimensions=dimensions)
            data = await self._post(dep, f"/v1beta/models/{dep.model}:batchEmbedContents", batch, auth="goog")
            return gemini_embeddings.decode_embed_response(orjson.loads(data))
        if dep.provider == "openai":
            payload: dict[str, Any] = {"model": dep.model, "input": texts, "encoding_format": "float"}
            if dimensions:
                payload["dimensions"] = dimensions
            data = await self._post(dep, _openai_path(dep), payload, auth="bearer")
            items = sorted(orjson.loads(data).get("data", []), key=lambda d: d.get("index", 0))
            return [item["embedding"] for item in items]
        raise InvalidRequestError(
            f"Model group served by provider '{dep.provider_alias}' has no embeddings API; "
            "use an OpenAI- or Gemini-backed model group for embeddings."
        )

    async def _post(self, dep: Deployment, path: str, payload: dict[str, Any], *, auth: str) -> bytes:
        default = (
            "https://api.openai.com/v1" if auth == "bearer" else "https://generativelanguage.googleapis.com"
        )
        base = (dep.api_base or default).rstrip("/")
        headers = {"content-type": "application/json"}
        if dep.api_key is not None:
            if dep.provider_alias == "azure":
                headers["api-key"] = dep.api_key.reveal()
            elif auth == "bearer":
                headers["authorization"] = f"Bearer {dep.api_key.reveal()}"
            else:
                headers["x-goog-api-key"] = dep.api_key.reveal()
        if dep.extra_headers:
            headers.update(dep.extra_headers)
        status, resp_headers, data = await self._http.post(
            base + path, orjson.dumps(payload), headers, timeout=self._chat.timeout_for(dep)
        )
        if status >= 400:
            adapter = self._chat.adapter_for(dep)
            raise adapter.error(status, data, resp_headers)
        if not data:
            raise UpstreamError("The provider sent an empty embeddings answer.", status=502)
        return data


def _openai_path(dep: Deployment) -> str:
    if dep.provider_alias == "azure":
        return f"/openai/deployments/{dep.model}/embeddings?api-version={azure_api_version(dep)}"
    return "/embeddings"


def _texts(inputs: list[Any]) -> list[str]:
    texts = [item for item in inputs if isinstance(item, str)]
    if len(texts) != len(inputs):
        raise InvalidRequestError(
            "Token-id inputs can only be sent to OpenAI-compatible embedding models; send text instead.",
            param="input",
        )
    return texts
