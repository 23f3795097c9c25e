"""Unit tests of bastion.protocols.gemini.embeddings."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.domain.errors import InvalidRequestError, UpstreamError
from bastion.protocols.gemini.embeddings import (
    decode_batch_embed_request,
    decode_embed_content_request,
    decode_embed_response,
    embed_dimensions,
    embed_path,
    encode_batch_embed_response,
    encode_embed_content_response,
    encode_embed_request,
)


def test_embed_path() -> None:
    """Upstream embeddings go to :batchEmbedContents under v1beta."""
    assert embed_path("models/text-embedding-004") == "/v1beta/models/text-embedding-004:batchEmbedContents"


def test_encode_embed_request_with_dimensions() -> None:
    """One request per input, each naming the model resource and the output size."""
    assert encode_embed_request(["a", "b"], "gemini-embedding-001", dimensions=256) == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "a"}]},
                "outputDimensionality": 256,
            },
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "b"}]},
                "outputDimensionality": 256,
            },
        ]
    }


def test_encode_embed_request_without_dimensions() -> None:
    """Without dimensions no outputDimensionality is sent."""
    body = encode_embed_request(["a"], "models/m", dimensions=None)
    assert body == {"requests": [{"model": "models/m", "content": {"parts": [{"text": "a"}]}}]}


def test_decode_embed_response_batch_and_single() -> None:
    """Vectors come out in order from a batch answer, or alone from a single one."""
    assert decode_embed_response({"embeddings": [{"values": [1.0, 2.0]}, {"values": [3.0]}]}) == [
        [1.0, 2.0],
        [3.0],
    ]
    assert decode_embed_response({"embedding": {"values": [0.5]}}) == [[0.5]]


@pytest.mark.parametrize("body", [{}, {"embeddings": [{"vals": []}]}, {"embeddings": "x"}])
def test_decode_embed_response_malformed(body: dict[str, Any]) -> None:
    """An answer without vectors is an upstream error (502), not a crash."""
    with pytest.raises(UpstreamError) as info:
        decode_embed_response(body)
    assert info.value.status == 502


def test_decode_embed_content_request() -> None:
    """embedContent gives one input: its text parts joined by newlines; a bare string is accepted."""
    body = {"content": {"parts": [{"text": "a"}, {"text": "b"}]}, "taskType": "RETRIEVAL_QUERY"}
    assert decode_embed_content_request(body, "m") == ["a\nb"]
    assert decode_embed_content_request({"content": "plain"}, "m") == ["plain"]


def test_decode_batch_embed_request() -> None:
    """batchEmbedContents gives one input per request, in order."""
    body = {
        "requests": [
            {"model": "models/m", "content": {"parts": [{"text": "x"}]}},
            {"model": "models/m", "content": {"parts": [{"text": "y"}]}},
        ]
    }
    assert decode_batch_embed_request(body) == ["x", "y"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "content"),
        ({"content": {"parts": [{"inlineData": {}}]}}, "content"),
        ({"content": {"parts": "x"}}, "content.parts"),
    ],
)
def test_decode_embed_content_request_errors(body: dict[str, Any], param: str) -> None:
    """A missing or non-text content is a 400 naming the field."""
    with pytest.raises(InvalidRequestError) as info:
        decode_embed_content_request(body, "m")
    assert info.value.param == param


@pytest.mark.parametrize(
    ("body", "param"),
    [({}, "requests"), ({"requests": []}, "requests"), ({"requests": [{}]}, "requests[0].content")],
)
def test_decode_batch_embed_request_errors(body: dict[str, Any], param: str) -> None:
    """A batch without requests, or a request without content, is a 400 naming the field."""
    with pytest.raises(InvalidRequestError) as info:
        decode_batch_embed_request(body)
    assert info.value.param == param


def test_embed_dimensions() -> None:
    """outputDimensionality is read from a single body or from every request of a batch, which
    must agree; a size that is not a positive integer (true, 0, "8") is refused, not ignored."""
    assert embed_dimensions({"content": "x", "outputDimensionality": 8}) == 8
    assert embed_dimensions({"requests": [{"output_dimensionality": 16}, {"outputDimensionality": 16}]}) == 16
    assert embed_dimensions({"requests": [{"content": "a"}, {"content": "b"}]}) is None
    assert embed_dimensions({"content": "x"}) is None
    for bad in (0, -1, True, "8", 2.5):
        with pytest.raises(InvalidRequestError):
            embed_dimensions({"outputDimensionality": bad})
    with pytest.raises(InvalidRequestError, match="requests\\[1\\]"):
        embed_dimensions({"requests": [{"outputDimensionality": 4}, {"outputDimensionality": 0}]})
    with pytest.raises(InvalidRequestError, match="same outputDimensionality"):
        embed_dimensions({"requests": [{"outputDimensionality": 4}, {}]})


def test_encode_embed_responses() -> None:
    """Surface answers have the embedContent and batchEmbedContents shapes."""
    assert encode_embed_content_response([1.0]) == {"embedding": {"values": [1.0]}}
    assert encode_batch_embed_response([[1.0], [2.0]]) == {
        "embeddings": [{"values": [1.0]}, {"values": [2.0]}]
    }
