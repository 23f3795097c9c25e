"""Google's Gemini Developer API (generativelanguage.googleapis.com) and compatible servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from bastion.domain.errors import UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.protocols.gemini import embeddings
from bastion.protocols.gemini import errors as wire_errors
from bastion.protocols.gemini.request import encode_request, model_action_path, model_path
from bastion.protocols.gemini.response import decode_response, usage_from_gemini
from bastion.protocols.gemini.stream import StreamDecoder
from bastion.providers._retry_after import retry_after_seconds
from bastion.providers.base import DataOnly, LocalModel, UpstreamRequest
from bastion.settings import Deployment

__all__ = ["GeminiAdapter", "GeminiSniffer"]


class GeminiAdapter:
    protocol = "gemini"
    local: LocalModel | None = None

    def chat_request(
        self, dep: Deployment, body: dict[str, Any], *, stream: bool, client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        return _request(dep, model_path(dep.model, stream=stream), body)

    def count_tokens_request(
        self, dep: Deployment, body: dict[str, Any], *, client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        return _request(dep, model_action_path(dep.model, "countTokens"), dict(body))

    def token_count(self, data: dict[str, Any]) -> int | None:
        count = data.get("totalTokens")
        return count if isinstance(count, int) else None

    def embeddings_request(
        self, dep: Deployment, texts: list[str], dimensions: int | None
    ) -> UpstreamRequest | None:
        batch = embeddings.encode_embed_request(texts, dep.model, dimensions=dimensions)
        return _request(dep, model_action_path(dep.model, "batchEmbedContents"), batch)

    def embeddings_passthrough(self, dep: Deployment, body: dict[str, Any]) -> UpstreamRequest | None:
        return None  # a Gemini client's texts are re-sent as one batch (embedContent or batch alike)

    def vectors(self, data: dict[str, Any]) -> list[list[float]]:
        return embeddings.decode_embed_response(data)

    def encode(self, req: ChatRequest, dep: Deployment, *, drop_params: bool) -> dict[str, Any]:
        return encode_request(req, drop_params=drop_params)

    def decode(self, data: dict[str, Any]) -> ChatResponse:
        return decode_response(data)

    def usage(self, data: dict[str, Any]) -> Usage:
        return usage_from_gemini(data.get("usageMetadata"))

    def event_decoder(self) -> DataOnly:
        return DataOnly(StreamDecoder())

    def sniffer(self, *, strip_usage_chunk: bool) -> GeminiSniffer:
        return GeminiSniffer()

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
        message, code = wire_errors.parse_upstream_error(status, body)
        retry_after = retry_after_seconds(headers)
        if retry_after is None:  # Google puts the delay in the body (RetryInfo), not in a header
            retry_after = wire_errors.parse_retry_delay(body)
        return UpstreamError(message, status=status, retry_after=retry_after, code=code)


def _request(dep: Deployment, path: str, body: dict[str, Any]) -> UpstreamRequest:
    body.pop("model", None)  # the model travels in the path
    base = (dep.api_base or "https://generativelanguage.googleapis.com").rstrip("/")
    headers = {"content-type": "application/json"}
    if dep.api_key is not None:
        headers["x-goog-api-key"] = dep.api_key.reveal()
    if dep.extra_headers:
        headers.update(dep.extra_headers)
    return UpstreamRequest(base + path, headers, orjson.dumps(body))


class GeminiSniffer:
    """Every chunk may carry ``usageMetadata``; the last one wins, so only the last is parsed."""

    __slots__ = ("content_frames", "error", "reported", "usage")

    def __init__(self) -> None:
        self.error: tuple[int, str] | None = None
        self.usage = Usage()
        self.reported = False
        self.content_frames = 0

    def observe(self, frame: bytes, event: str | None, data: bytes | None) -> bool:
        if data is None:
            return True
        if data.startswith(b'{"error"'):
            error = orjson.loads(data).get("error") or {}
            code = error.get("code") if isinstance(error, dict) else None
            status = code if isinstance(code, int) else 500
            self.error = (
                status,
                wire_errors.kind_for(status, error.get("status") if isinstance(error, dict) else None),
            )
            return True
        self.content_frames += 1
        if data.find(b'"usageMetadata"') >= 0:  # find, not in: see OpenAISniffer.observe
            payload = orjson.loads(data)
            self.usage = usage_from_gemini(payload.get("usageMetadata"))
            self.reported = True
        return True
