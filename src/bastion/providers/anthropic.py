"""Anthropic and Anthropic-compatible servers (any base URL that speaks /v1/messages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from bastion.domain.errors import UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.anthropic import errors as wire_errors
from bastion.protocols.anthropic.request import encode_request
from bastion.protocols.anthropic.response import decode_response, usage_from_anthropic
from bastion.protocols.anthropic.stream import StreamDecoder
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.providers._retry_after import retry_after_seconds
from bastion.providers.base import LocalModel, UpstreamRequest
from bastion.settings import Deployment

__all__ = ["AnthropicAdapter", "AnthropicSniffer"]

_VERSION = "2023-06-01"
#: Client headers an Anthropic upstream must receive unchanged (Claude Code depends on the betas).
_FORWARDED = ("anthropic-version", "anthropic-beta")


class AnthropicAdapter:
    protocol = "anthropic"
    local: LocalModel | None = None

    def __init__(self, *, default_max_tokens: int = 4096) -> None:
        self._default_max_tokens = default_max_tokens

    def chat_request(
        self, dep: Deployment, body: dict[str, Any], *, stream: bool, client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        body["model"] = dep.model
        base = (dep.api_base or "https://api.anthropic.com").rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "anthropic-version": _VERSION,
        }
        for name in _FORWARDED:
            value = client_headers.get(name)
            if value:
                headers[name] = value
        if dep.api_key is not None:
            headers["x-api-key"] = dep.api_key.reveal()
        if dep.extra_headers:
            headers.update(dep.extra_headers)
        return UpstreamRequest(f"{base}/v1/messages", headers, orjson.dumps(body))

    def count_tokens_request(
        self, dep: Deployment, body: dict[str, Any], *, client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        """``/v1/messages/count_tokens``: the messages body without ``max_tokens``."""
        body = dict(body)
        body.pop("max_tokens", None)
        upstream = self.chat_request(dep, body, stream=False, client_headers=client_headers)
        upstream.url += "/count_tokens"
        return upstream

    def token_count(self, data: dict[str, Any]) -> int | None:
        count = data.get("input_tokens")
        return count if isinstance(count, int) else None

    def embeddings_request(
        self, dep: Deployment, texts: list[str], dimensions: int | None
    ) -> UpstreamRequest | None:
        return None  # Anthropic has no embeddings API

    def embeddings_passthrough(self, dep: Deployment, body: dict[str, Any]) -> UpstreamRequest | None:
        return None

    def vectors(self, data: dict[str, Any]) -> list[list[float]]:
        return []

    def encode(self, req: ChatRequest, dep: Deployment, *, drop_params: bool) -> dict[str, Any]:
        return encode_request(
            req, dep.model, drop_params=drop_params, default_max_tokens=self._max_tokens(dep)
        )

    def _max_tokens(self, dep: Deployment) -> int:
        return dep.model_info.max_output_tokens or self._default_max_tokens

    def decode(self, data: dict[str, Any]) -> ChatResponse:
        return decode_response(data)

    def usage(self, data: dict[str, Any]) -> Usage:
        return usage_from_anthropic(data.get("usage"))

    def event_decoder(self) -> StreamDecoder:
        return StreamDecoder()

    def sniffer(self, *, strip_usage_chunk: bool) -> AnthropicSniffer:
        return AnthropicSniffer()

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
        message, code = wire_errors.parse_upstream_error(status, body)
        return UpstreamError(message, status=status, retry_after=retry_after_seconds(headers), code=code)


class AnthropicSniffer:
    """Reads usage from ``message_start`` and the cumulative ``message_delta``."""

    __slots__ = ("_raw", "content_frames", "error", "reported", "usage")

    def __init__(self) -> None:
        self.error: tuple[int, str] | None = None
        self.usage = Usage()
        self.reported = False
        self.content_frames = 0
        self._raw: dict[str, Any] = {}

    def observe(self, frame: bytes, event: str | None, data: bytes | None) -> bool:
        if event == "content_block_delta":
            self.content_frames += 1
        elif event == "error":
            error = orjson.loads(data).get("error", {}) if data else {}
            self.error = wire_errors.status_and_kind(error.get("type") if isinstance(error, dict) else None)
        elif data is not None and event in ("message_start", "message_delta"):
            payload = orjson.loads(data)
            usage = (
                payload.get("message", {}).get("usage") if event == "message_start" else payload.get("usage")
            )
            if isinstance(usage, dict):
                # message_delta values are cumulative and overwrite what message_start said.
                self._raw.update({k: v for k, v in usage.items() if v is not None})
                self.usage = usage_from_anthropic(self._raw)
                if event == "message_delta":
                    self.reported = True
        return True
