"""Unit tests for bastion.protocols.openai.embeddings."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from openai.types import CreateEmbeddingResponse

from bastion.domain.errors import InvalidRequestError
from bastion.protocols.openai.embeddings import (
    EmbeddingsRequest,
    decode_embeddings_request,
    encode_embeddings_response,
)


@pytest.mark.parametrize(
    ("raw", "inputs"),
    [
        ("hello", ["hello"]),
        (["a", "b"], ["a", "b"]),
        ([1, 2, 3], [[1, 2, 3]]),
        ([[1, 2], [3]], [[1, 2], [3]]),
    ],
)
def test_decode_input_forms(raw: Any, inputs: list[Any]) -> None:
    """Every input form becomes a list of texts or token lists."""
    assert decode_embeddings_request({"model": "e", "input": raw}).inputs == inputs


def test_decode_all_fields_and_extra() -> None:
    """Known fields are typed; anything else goes to extra."""
    req = decode_embeddings_request(
        {"model": "e", "input": "x", "encoding_format": "base64", "dimensions": 256, "user": "u", "foo": 1}
    )
    assert req == EmbeddingsRequest("e", ["x"], "base64", 256, "u", {"foo": 1})


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "e"}, "input"),
        ({"model": "e", "input": []}, "input"),
        ({"model": "e", "input": [1, "a"]}, "input"),
        ({"model": "e", "input": [[]]}, "input"),
        ({"model": "e", "input": [True]}, "input"),
        ({"model": "e", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "e", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "e", "input": "x", "user": 5}, "user"),
    ],
)
def test_decode_rejects_bad_shapes(payload: dict[str, Any], param: str) -> None:
    """Malformed embeddings bodies are refused, naming the field."""
    with pytest.raises(InvalidRequestError) as info:
        decode_embeddings_request(payload)
    assert info.value.param == param


def test_encode_float_response_validates_with_sdk() -> None:
    """A float response has the list shape and usage the SDK expects."""
    out = encode_embeddings_response([[0.5, -1.0], [0.25, 2.0]], "emb", 8, "float")
    assert out == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
            {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]},
        ],
        "model": "emb",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }
    assert CreateEmbeddingResponse.model_validate(out).data[1].embedding == [0.25, 2.0]


def test_encode_base64_is_little_endian_float32() -> None:
    """base64 packs each vector as little-endian float32, as the SDK decodes it."""
    vector = [0.5, -1.25, 3.0]
    out = encode_embeddings_response([vector], "emb", 3, "base64")
    encoded = out["data"][0]["embedding"]
    assert isinstance(encoded, str)
    raw = base64.b64decode(encoded)
    assert raw == struct.pack("<3f", *vector)
    assert list(struct.unpack("<3f", raw)) == vector


def test_encode_without_format_gives_floats() -> None:
    """No encoding_format means float lists."""
    assert encode_embeddings_response([[1.0]], "e", 1, None)["data"][0]["embedding"] == [1.0]
