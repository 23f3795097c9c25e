"""The built-in ``mock`` provider: answers offline, in-process, so there is always something to call.

``litellm_params`` may set ``mock_response`` (the answer text; LiteLLM's name) and
``mock_stream_delay`` (seconds between streamed tokens). Otherwise it answers with a fixed sentence,
or with as many words as ``max_tokens`` allows when that is smaller. When tools are offered and the
last user message says ``use_tool``, it calls the first tool.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator, Mapping
from typing import Any

from bastion.domain.errors import InternalError, UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ChatResponse,
    ContentPart,
    MessageEnd,
    MessageStart,
    StopReason,
    StreamEvent,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from bastion.protocols.token_estimate import estimate_tokens
from bastion.settings import Deployment

__all__ = ["MockProvider", "mock_vector"]

_DEFAULT = "This is a mock response from Bastion. Configure a real provider to talk to a model."
_ids = itertools.count(1)


class MockProvider:
    """The mock as a provider adapter like the others; it answers in-process (``local``), so the
    HTTP side of the adapter interface is never reached."""

    protocol = "mock"

    @property
    def local(self) -> MockProvider:
        return self

    def embed(self, texts: list[str], dimensions: int | None) -> list[list[float]]:
        return [mock_vector(t, dimensions or 8) for t in texts]

    # The HTTP side: a local model has no URL. ---------------------------------------------------

    def chat_request(
        self, dep: Deployment, body: dict[str, Any], *, stream: bool, client_headers: Mapping[str, str]
    ) -> Any:
        raise InternalError("the mock provider answers in-process")

    def count_tokens_request(
        self, dep: Deployment, body: dict[str, Any], *, client_headers: Mapping[str, str]
    ) -> None:
        return None  # estimated locally, like any provider without a counting endpoint

    def token_count(self, data: dict[str, Any]) -> int | None:
        return None

    def embeddings_request(self, dep: Deployment, texts: list[str], dimensions: int | None) -> None:
        return None

    def embeddings_passthrough(self, dep: Deployment, body: dict[str, Any]) -> None:
        return None

    def vectors(self, data: dict[str, Any]) -> list[list[float]]:
        return []

    def encode(self, req: ChatRequest, dep: Deployment, *, drop_params: bool) -> dict[str, Any]:
        raise InternalError("the mock provider answers in-process")

    def decode(self, data: dict[str, Any]) -> ChatResponse:
        raise InternalError("the mock provider answers in-process")

    def usage(self, data: dict[str, Any]) -> Usage:
        return Usage()

    def event_decoder(self) -> Any:
        raise InternalError("the mock provider answers in-process")

    def sniffer(self, *, strip_usage_chunk: bool) -> Any:
        raise InternalError("the mock provider answers in-process")

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError:
        return UpstreamError(body.decode(errors="replace"), status=status)

    # The model. --------------------------------------------------------------------------------

    def complete(self, req: ChatRequest, dep: Deployment) -> ChatResponse:
        content, stop = _answer(req, dep)
        return ChatResponse(
            id=f"mock-{next(_ids)}",
            model=dep.model,
            content=content,
            stop_reason=stop,
            usage=Usage(input_tokens=_prompt_tokens(req), output_tokens=_output_tokens(content)),
        )

    async def stream(self, req: ChatRequest, dep: Deployment) -> AsyncIterator[StreamEvent]:
        content, stop = _answer(req, dep)
        delay = float(dep.defaults.get("mock_stream_delay", 0) or 0)
        usage = Usage(input_tokens=_prompt_tokens(req))
        yield MessageStart(
            id=f"mock-{next(_ids)}", model=dep.model, usage=Usage(input_tokens=usage.input_tokens)
        )
        for index, part in enumerate(content):
            if isinstance(part, ToolCallPart):
                yield BlockStart(index, ToolCallPart(part.id, part.name, {}))
                yield BlockDelta(index, "json", '{"city": "Oslo"}')
            elif isinstance(part, TextPart):
                yield BlockStart(index, TextPart(""))
                for n, word in enumerate(part.text.split(" ")):
                    if delay:
                        await asyncio.sleep(delay)
                    yield BlockDelta(index, "text", word if n == 0 else " " + word)
            yield BlockStop(index)
        usage.output_tokens = _output_tokens(content)
        yield MessageEnd(stop_reason=stop, usage=usage)


def mock_vector(text: str, dims: int = 8) -> list[float]:
    """A deterministic unit-free vector for the offline mock provider."""
    out: list[float] = []
    seed = text.encode()
    while len(out) < dims:
        seed = hashlib.sha256(seed).digest()
        out.extend((b - 127.5) / 127.5 for b in seed)
    return [round(v, 6) for v in out[:dims]]


def _answer(req: ChatRequest, dep: Deployment) -> tuple[list[ContentPart], StopReason]:
    if req.tools and "use_tool" in _last_user_text(req):
        return [
            ToolCallPart(id=f"call_mock_{next(_ids)}", name=req.tools[0].name, arguments={"city": "Oslo"})
        ], ("tool_use")
    text = str(dep.defaults.get("mock_response") or _DEFAULT)
    words = text.split(" ")
    if req.max_tokens is not None and req.max_tokens < len(words):
        return [TextPart(" ".join(words[: max(req.max_tokens, 1)]))], "max_tokens"
    return [TextPart(text)], "end_turn"


def _last_user_text(req: ChatRequest) -> str:
    for message in reversed(req.messages):
        if message.role == "user":
            return " ".join(p.text for p in message.content if isinstance(p, TextPart))
    return ""


def _prompt_tokens(req: ChatRequest) -> int:
    chars = sum(len(p.text) for p in req.system)
    for message in req.messages:
        for part in message.content:
            if isinstance(part, TextPart):
                chars += len(part.text)
            elif isinstance(part, ToolResultPart):
                chars += sum(len(p.text) for p in part.content if isinstance(p, TextPart))
    return max(estimate_tokens(chars), 1)


def _output_tokens(content: list[ContentPart]) -> int:
    words = sum(len(p.text.split(" ")) for p in content if isinstance(p, TextPart))
    return words + 8 * sum(isinstance(p, ToolCallPart) for p in content)
