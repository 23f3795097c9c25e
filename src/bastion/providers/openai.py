"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, OpenRouter, Groq, Azure-style...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from bastion.domain.errors import UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.protocols.openai import errors as wire_errors
from bastion.protocols.openai.request import encode_request
from bastion.protocols.openai.response import decode_response, usage_from_openai
from bastion.protocols.openai.stream import StreamDecoder
from bastion.providers._retry_after import retry_after_seconds
from bastion.providers.base import DataOnly, LocalModel, UpstreamRequest
from bastion.settings import Deployment

__all__ = ["OpenAIAdapter", "OpenAISniffer", "azure_api_version", "openai_request"]

_JSON = "application/json"


#: The Azure OpenAI API version used when a deployment names none.
_AZURE_API_VERSION = "2024-10-21"


def azure_api_version(dep: Deployment) -> str:
    return dep.api_version or _AZURE_API_VERSION


class OpenAIAdapter:
    protocol = "openai"
    local: LocalModel | None = None

    def chat_request(
        self, dep: Deployment, body: dict[str, Any], *, stream: bool, client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        body["model"] = dep.model
        return openai_request(dep, "chat/completions", body, accept="text/event-stream" if stream else _JSON)

    def embeddings_request(
        self, dep: Deployment, texts: list[str], dimensions: int | None
    ) -> UpstreamRequest | None:
        payload: dict[str, Any] = {"model": dep.model, "input": texts, "encoding_format": "float"}
        if dimensions:
            payload["dimensions"] = dimensions
        return openai_request(dep, "embeddings", payload)

    def embeddings_passthrough(self, dep: Deployment, body: dict[str, Any]) -> UpstreamRequest | None:
        return openai_request(dep, "embeddings", {**body, "model": dep.model})

    def vectors(self, data: dict[str, Any]) -> list[list[float]]:
        items = sorted(data.get("data", []), key=lambda d: d.get("index", 0))
        return [item["embedding"] for item in items]

    def count_tokens_request(
        self, dep: Deployment, body: dict[str, Any], *, client_headers: Mapping[str, str]
    ) -> UpstreamRequest | None:
        return None  # OpenAI has no counting endpoint: the gateway estimates

    def token_count(self, data: dict[str, Any]) -> int | None:
        return None

    def encode(self, req: ChatRequest, dep: Deployment, *, drop_params: bool) -> dict[str, Any]:
        return encode_request(req, dep.model, drop_params=drop_params)

    def decode(self, data: dict[str, Any]) -> ChatResponse:
        return decode_response(data)

    def usage(self, data: dict[str, Any]) -> Usage:
        return usage_from_openai(data.get("usage"))

    def event_decoder(self) -> DataOnly:
        return DataOnly(StreamDecoder())

    def sniffer(self, *, strip_usage_chunk: bool) -> OpenAISniffer:
        return OpenAISniffer(strip_usage_chunk=strip_usage_chunk)

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
        message, code = wire_errors.parse_upstream_error(status, body)
        return UpstreamError(message, status=status, retry_after=retry_after_seconds(headers), code=code)


def openai_request(
    dep: Deployment, endpoint: str, body: dict[str, Any], *, accept: str = _JSON, per_deployment: bool = True
) -> UpstreamRequest:
    """``endpoint`` (``chat/completions``, ``embeddings``, ``responses``) of the deployment's server,
    Azure's URLs (per deployment, unless ``per_deployment`` is false as for the Responses API, whose
    body names the deployment) and ``api-key`` header included."""
    base = (dep.api_base or "https://api.openai.com/v1").rstrip("/")
    headers = {"content-type": _JSON, "accept": accept}
    key = dep.api_key.reveal() if dep.api_key is not None else None
    if dep.provider_alias == "azure":
        where = f"deployments/{dep.model}/{endpoint}" if per_deployment else endpoint
        url = f"{base}/openai/{where}?api-version={azure_api_version(dep)}"
        if key:
            headers["api-key"] = key
    else:
        url = f"{base}/{endpoint}"
        if key:
            headers["authorization"] = f"Bearer {key}"
    if dep.extra_headers:
        headers.update(dep.extra_headers)
    return UpstreamRequest(url, headers, orjson.dumps(body))


class OpenAISniffer:
    """Finds usage in the final ``choices: []`` chunk; drops it when the client did not ask for it."""

    __slots__ = ("content_frames", "error", "reported", "strip_usage_chunk", "usage")

    def __init__(self, *, strip_usage_chunk: bool) -> None:
        self.error: tuple[int, str] | None = None
        self.usage = Usage()
        self.reported = False
        self.content_frames = 0
        self.strip_usage_chunk = strip_usage_chunk

    def observe(self, frame: bytes, event: str | None, data: bytes | None) -> bool:
        # Once per streamed token: a byte index where it settles the question, and ``find``, not
        # ``in`` (which on CPython 3.11 first tries the needle as an integer, raising an error).
        if data is None or not data:
            return True
        head = data[0]
        if head == 0x5B and data.startswith(b"[DONE]"):  # [
            return True
        if head == 0x7B and data.startswith(b'{"error"'):  # {
            self.error = _in_band_error(data)
            return True
        # '"usage":{' or '"usage": {' anywhere ('"usage":null' is in every chunk of a stream
        # that asked for usage).
        at = data.find(b'"usage":')
        while at >= 0:
            at += 8
            if at < len(data) and (data[at] == 0x7B or (data[at] == 0x20 and data.startswith(b"{", at + 1))):
                chunk = orjson.loads(data)
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    self.usage = usage_from_openai(usage)
                    self.reported = True
                    if self.strip_usage_chunk and not chunk.get("choices"):
                        return False
                break
            at = data.find(b'"usage":', at)
        # Any '"delta":{}' starts with the first '"delta"': look for it from there only.
        delta = data.find(b'"delta"')
        if delta >= 0 and data.find(b'"delta":{}', delta) < 0:
            self.content_frames += 1
        return True


def _in_band_error(data: bytes) -> tuple[int, str]:
    try:
        error = orjson.loads(data).get("error") or {}
    except orjson.JSONDecodeError:
        return 502, "api_error"
    error_type = error.get("type") if isinstance(error, dict) else None
    status = 429 if error_type in ("rate_limit_error", "rate_limit_exceeded") else 500
    return status, wire_errors.error_kind(status, error_type if isinstance(error_type, str) else None)
