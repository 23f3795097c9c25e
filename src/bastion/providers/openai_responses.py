"""OpenAI's own Responses API as an upstream: the pass-through of ``POST /v1/responses``.

A Responses call on a model group whose deployment speaks the Responses API (OpenAI itself by
default; ``litellm_params.responses_api`` decides for any OpenAI-protocol deployment) goes to the
upstream's ``/responses`` with only the model and the credentials changed; its answer and every
SSE frame come back as sent, while usage is read from the final ``response.completed`` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.domain.errors import UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.protocols.openai_responses.events import StreamDecoder, terminal_response
from bastion.protocols.openai_responses.response import decode_response, usage_from_responses
from bastion.providers.base import LocalModel, UpstreamRequest
from bastion.providers.openai import OpenAIAdapter, openai_request
from bastion.settings import Deployment

__all__ = ["ResponsesAdapter", "ResponsesSniffer", "speaks_responses"]

_JSON = "application/json"


def speaks_responses(dep: Deployment) -> bool:
    """Whether ``dep`` takes Responses API calls itself (an OpenAI-protocol deployment only)."""
    if dep.provider != "openai":
        return False
    setting = dep.defaults.get("responses_api")
    if setting is not None:
        return bool(setting)
    return dep.provider_alias == "openai" and (dep.api_base is None or "api.openai.com" in dep.api_base)


class ResponsesAdapter:
    """OpenAI's protocol at ``/responses``: addressing, usage and errors (OpenAI's own)."""

    protocol = "responses"
    local: LocalModel | None = None

    def __init__(self) -> None:
        self._openai = OpenAIAdapter()

    # Token counts and embeddings never go through this adapter: they take the deployment's own.
    def count_tokens_request(
        self, dep: Deployment, body: dict[str, Any], *, client_headers: Mapping[str, str]
    ) -> UpstreamRequest | None:
        return None

    def token_count(self, data: dict[str, Any]) -> int | None:
        return None

    def embeddings_request(
        self, dep: Deployment, texts: list[str], dimensions: int | None
    ) -> UpstreamRequest | None:
        return None

    def embeddings_passthrough(self, dep: Deployment, body: dict[str, Any]) -> UpstreamRequest | None:
        return None

    def vectors(self, data: dict[str, Any]) -> list[list[float]]:
        return []

    def chat_request(
        self, dep: Deployment, body: dict[str, Any], *, stream: bool, client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        body["model"] = dep.model
        accept = "text/event-stream" if stream else _JSON
        return openai_request(dep, "responses", body, accept=accept, per_deployment=False)

    def encode(self, req: ChatRequest, dep: Deployment, *, drop_params: bool) -> dict[str, Any]:
        raise UpstreamError("A Responses API upstream only takes Responses API calls.", status=500)

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
        return self._openai.error(status, body, headers)

    def decode(self, data: dict[str, Any]) -> ChatResponse:
        return decode_response(data)

    def usage(self, data: dict[str, Any]) -> Usage:
        return usage_from_responses(data.get("usage"))

    def event_decoder(self) -> StreamDecoder:
        return StreamDecoder()

    def sniffer(self, *, strip_usage_chunk: bool) -> ResponsesSniffer:
        del strip_usage_chunk
        return ResponsesSniffer()


class ResponsesSniffer:
    """Reads usage (and in-band failures) from a passed-through Responses stream."""

    __slots__ = ("content_frames", "error", "reported", "usage")

    def __init__(self) -> None:
        self.error: tuple[int, str] | None = None
        self.usage = Usage()
        self.reported = False
        self.content_frames = 0

    def observe(self, frame: bytes, event: str | None, data: bytes | None) -> bool:
        if data is None:
            return True
        if event is not None and event.endswith(".delta"):
            self.content_frames += 1
            return True
        if event == "error":
            self.error = (500, "api_error")
            return True
        response = terminal_response(event, data)
        if response is not None:
            self.usage = usage_from_responses(response.get("usage"))
            self.reported = True
            if response.get("status") == "failed":
                self.error = (500, "api_error")
        return True
