"""A cached answer: a canonical :class:`ChatResponse`, as bytes, and back as a body or a stream.

The cache stores the canonical form, not a surface's bytes, so one entry answers both the streaming
and the non-streaming form of a request: a surface encodes it as a body, or its stream encoder
replays :func:`replay` (one block after another, each block's content in one delta). Answers that
arrive as a stream are rebuilt by :class:`AnswerBuilder` from the canonical events; a stream that
broke, errored or never reached its end builds nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    ContentPart,
    MessageEnd,
    MessageStart,
    RedactedThinkingPart,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)

__all__ = [
    "AnswerBuilder",
    "CachedAnswer",
    "cacheable",
    "decode_answer",
    "encode_answer",
    "replay",
    "replay_events",
]


@dataclass(slots=True)
class CachedAnswer:
    response: ChatResponse
    #: Unix time it was stored (for LiteLLM's ``s-maxage`` request control).
    stored_at: float


def encode_answer(resp: ChatResponse) -> bytes:
    """The bytes stored for ``resp``; only text, tool calls and thinking are stored."""
    return orjson.dumps(
        {
            "id": resp.id,
            "model": resp.model,
            "stop_reason": resp.stop_reason,
            "stop_sequence": resp.stop_sequence,
            "usage": [
                resp.usage.input_tokens,
                resp.usage.output_tokens,
                resp.usage.cache_read_tokens,
                resp.usage.cache_write_tokens,
                resp.usage.reasoning_tokens,
            ],
            "content": [_encode_part(part) for part in resp.content],
            "at": time.time(),
        }
    )


def cacheable(resp: ChatResponse) -> bool:
    """Whether every part of ``resp`` survives :func:`encode_answer` (images and the like do not)."""
    return all(type(part) in _STORED for part in resp.content)


def decode_answer(data: bytes) -> CachedAnswer | None:
    """The answer stored as ``data``, or None when it cannot be read (an older format)."""
    try:
        raw = orjson.loads(data)
        usage = Usage(*raw["usage"])
        content = [_decode_part(part) for part in raw["content"]]
        resp = ChatResponse(
            id=raw["id"],
            model=raw["model"],
            content=content,
            stop_reason=raw["stop_reason"],
            usage=usage,
            stop_sequence=raw.get("stop_sequence"),
        )
        return CachedAnswer(resp, float(raw["at"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


_STORED = (TextPart, ToolCallPart, ThinkingPart, RedactedThinkingPart)


def _encode_part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"t": "text", "text": part.text}
    if isinstance(part, ToolCallPart):
        return {"t": "tool", "id": part.id, "name": part.name, "args": part.arguments, "sig": part.signature}
    if isinstance(part, ThinkingPart):
        return {"t": "thinking", "text": part.text, "sig": part.signature}
    if isinstance(part, RedactedThinkingPart):
        return {"t": "redacted", "data": part.data}
    raise TypeError(f"{type(part).__name__} is not cached")


def _decode_part(raw: dict[str, Any]) -> ContentPart:
    kind = raw["t"]
    if kind == "text":
        return TextPart(raw["text"])
    if kind == "tool":
        return ToolCallPart(raw["id"], raw["name"], raw["args"], raw.get("sig"))
    if kind == "thinking":
        return ThinkingPart(raw["text"], raw.get("sig"))
    if kind == "redacted":
        return RedactedThinkingPart(raw["data"])
    raise ValueError(kind)


async def replay(resp: ChatResponse) -> AsyncIterator[StreamEvent]:
    """``resp`` as a complete canonical stream."""
    for event in replay_events(resp):
        yield event


def replay_events(resp: ChatResponse) -> Iterator[StreamEvent]:
    usage = resp.usage
    yield MessageStart(
        id=resp.id,
        model=resp.model,
        usage=Usage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
    )
    for index, part in enumerate(resp.content):
        if isinstance(part, TextPart):
            yield BlockStart(index, TextPart(""))
            if part.text:
                yield BlockDelta(index, "text", part.text)
        elif isinstance(part, ToolCallPart):
            yield BlockStart(index, ToolCallPart(part.id, part.name, {}, part.signature))
            yield BlockDelta(index, "json", orjson.dumps(part.arguments).decode())
        elif isinstance(part, ThinkingPart):
            yield BlockStart(index, ThinkingPart(""))
            if part.text:
                yield BlockDelta(index, "thinking", part.text)
            if part.signature:
                yield BlockDelta(index, "signature", part.signature)
        else:
            yield BlockStart(index, part)
        yield BlockStop(index)
    yield MessageEnd(
        stop_reason=resp.stop_reason,
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
        ),
        stop_sequence=resp.stop_sequence,
    )


class AnswerBuilder:
    """Rebuilds the answer from a canonical stream; :attr:`response` is set once it ended well."""

    __slots__ = ("_failed", "_id", "_json", "_model", "_parts", "_usage", "response")

    def __init__(self) -> None:
        self._id = ""
        self._model = ""
        self._usage = Usage()
        self._parts: dict[int, ContentPart] = {}
        self._json: dict[int, list[str]] = {}
        self._failed = False
        self.response: ChatResponse | None = None

    def feed(self, event: StreamEvent) -> None:
        if self._failed:
            return
        kind = type(event)
        if kind is BlockDelta:
            assert isinstance(event, BlockDelta)
            self._delta(event)
        elif kind is BlockStart:
            assert isinstance(event, BlockStart)
            self._start(event)
        elif kind is BlockStop:
            assert isinstance(event, BlockStop)
            self._stop(event.index)
        elif kind is MessageStart:
            assert isinstance(event, MessageStart)
            self._id, self._model = event.id, event.model
            self._usage.merge(event.usage)
        elif kind is MessageEnd:
            assert isinstance(event, MessageEnd)
            self._usage.merge(event.usage)
            for index in list(self._json):
                self._stop(index)
            if not self._failed:
                content = [self._parts[i] for i in sorted(self._parts)]
                self.response = ChatResponse(
                    self._id, self._model, content, event.stop_reason, self._usage, event.stop_sequence
                )
        elif kind is StreamError:
            self._failed = True

    def _start(self, event: BlockStart) -> None:
        part = event.part
        if isinstance(part, TextPart):
            self._parts[event.index] = TextPart(part.text)
        elif isinstance(part, ToolCallPart):
            self._parts[event.index] = ToolCallPart(part.id, part.name, {}, part.signature)
            self._json[event.index] = []
        elif isinstance(part, ThinkingPart):
            self._parts[event.index] = ThinkingPart(part.text, part.signature)
        elif isinstance(part, RedactedThinkingPart):
            self._parts[event.index] = part
        else:
            self._failed = True  # a block the cache cannot store

    def _delta(self, event: BlockDelta) -> None:
        part = self._parts.get(event.index)
        if event.kind == "text" and isinstance(part, TextPart):
            part.text += event.value
        elif event.kind == "json" and event.index in self._json:
            self._json[event.index].append(event.value)
        elif event.kind == "thinking" and isinstance(part, ThinkingPart):
            part.text += event.value
        elif event.kind == "signature" and isinstance(part, ThinkingPart | ToolCallPart):
            part.signature = (part.signature or "") + event.value

    def _stop(self, index: int) -> None:
        pieces = self._json.pop(index, None)
        part = self._parts.get(index)
        if pieces is None or not isinstance(part, ToolCallPart):
            return
        text = "".join(pieces)
        try:
            args = orjson.loads(text) if text else {}
        except orjson.JSONDecodeError:
            self._failed = True
            return
        if not isinstance(args, dict):
            self._failed = True
            return
        part.arguments = args
