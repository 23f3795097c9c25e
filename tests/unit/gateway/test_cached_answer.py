"""Cached answers: stored and read back whole, replayed as a stream, rebuilt from a stream."""

from __future__ import annotations

import asyncio

from bastion.domain.usage import Usage
from bastion.gateway.cache_store import MemoryCacheStore
from bastion.gateway.cached_answer import (
    AnswerBuilder,
    cacheable,
    decode_answer,
    encode_answer,
    replay_events,
)
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    ChatResponse,
    ImagePart,
    MessageEnd,
    MessageStart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)

ANSWER = ChatResponse(
    id="msg_1",
    model="m",
    content=[
        ThinkingPart("hmm", signature="sig"),
        TextPart("hello"),
        ToolCallPart("call_1", "weather", {"city": "Oslo"}, signature="ts"),
    ],
    stop_reason="tool_use",
    usage=Usage(input_tokens=10, output_tokens=5, cache_read_tokens=2, reasoning_tokens=1),
)


def test_round_trip_keeps_every_part() -> None:
    decoded = decode_answer(encode_answer(ANSWER))
    assert decoded is not None and decoded.response == ANSWER and decoded.stored_at > 0


def test_unreadable_entries_are_misses() -> None:
    assert decode_answer(b"not json") is None
    assert decode_answer(b'{"id": 1}') is None


def test_answers_with_images_are_not_cached() -> None:
    assert cacheable(ANSWER)
    assert not cacheable(ChatResponse("x", "m", [ImagePart(url="u")], "end_turn", Usage()))


def test_replayed_stream_rebuilds_the_same_answer() -> None:
    builder = AnswerBuilder()
    for event in replay_events(ANSWER):
        builder.feed(event)
    assert builder.response == ANSWER


def test_a_stream_that_errors_or_does_not_end_builds_nothing() -> None:
    broken = AnswerBuilder()
    for event in (MessageStart("i", "m"), BlockStart(0, TextPart("")), BlockDelta(0, "text", "hal")):
        broken.feed(event)
    assert broken.response is None
    failed = AnswerBuilder()
    failed.feed(MessageStart("i", "m"))
    failed.feed(StreamError(500, "upstream", "boom"))
    failed.feed(MessageEnd("end_turn", Usage()))
    assert failed.response is None


def test_bad_tool_json_builds_nothing() -> None:
    builder = AnswerBuilder()
    for event in (
        MessageStart("i", "m"),
        BlockStart(0, ToolCallPart("c", "f", {})),
        BlockDelta(0, "json", '{"city": '),
        MessageEnd("tool_use", Usage()),
    ):
        builder.feed(event)
    assert builder.response is None


def test_memory_store_evicts_the_least_recently_used() -> None:
    async def run() -> None:
        store = MemoryCacheStore(2)
        await store.set("a", b"1", 60)
        await store.set("b", b"2", 60)
        assert await store.get("a") == b"1"  # a is now the most recent
        await store.set("c", b"3", 60)
        assert await store.get("b") is None
        assert await store.get("a") == b"1" and await store.get("c") == b"3"
        await store.set("d", b"4", 1e-9)
        assert await store.get("d") is None  # expired, and dropped
        assert len(store) == 1 and await store.get("c") == b"3"

    asyncio.run(run())
