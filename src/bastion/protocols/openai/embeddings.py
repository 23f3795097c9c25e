"""``POST /v1/embeddings`` bodies: the request a client sends and the response it expects.

When a caller gives no ``encoding_format`` the OpenAI Python SDK asks for ``base64`` itself and
decodes each embedding as little-endian float32 (protocols.md §1.6), so a translating gateway must
honour ``base64`` exactly.
"""

from __future__ import annotations

import base64
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from bastion.domain.errors import InvalidRequestError
from bastion.protocols.embeddings import EmbeddingsCall

__all__ = [
    "CODEC",
    "EmbeddingsRequest",
    "EncodingFormat",
    "OpenAIEmbeddings",
    "decode_embeddings_request",
    "encode_embeddings_response",
]

EncodingFormat = Literal["float", "base64"]

_KNOWN = frozenset({"model", "input", "encoding_format", "dimensions", "user"})


@dataclass(slots=True)
class EmbeddingsRequest:
    """An embeddings request; ``inputs`` is always a list (texts, or token-id lists)."""

    model: str
    inputs: list[str] | list[list[int]]
    encoding_format: EncodingFormat | None = None
    dimensions: int | None = None
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _is_tokens(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)


def _decode_inputs(value: object) -> list[str] | list[list[int]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(item, str) for item in value):
            return list(value)
        if _is_tokens(value):
            return [list(value)]
        if all(_is_tokens(item) and item for item in value):
            return [list(item) for item in value]
    raise InvalidRequestError(
        "'input' must be a string, a non-empty list of strings, a list of token ids, or a list of "
        "token-id lists.",
        param="input",
    )


def decode_embeddings_request(body: dict[str, Any]) -> EmbeddingsRequest:
    """A client's embeddings body -> :class:`EmbeddingsRequest`; unknown fields go to ``extra``."""
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("'model' is required: the name of the model to use.", param="model")
    if "input" not in body:
        raise InvalidRequestError("'input' is required: the text to embed.", param="input")
    req = EmbeddingsRequest(model=model, inputs=_decode_inputs(body["input"]))
    fmt = body.get("encoding_format")
    if fmt == "float" or fmt == "base64":
        req.encoding_format = fmt
    elif fmt is not None:
        raise InvalidRequestError("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise InvalidRequestError("'dimensions' must be a positive integer.", param="dimensions")
        req.dimensions = dimensions
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequestError("'user' must be a string.", param="user")
    req.user = user
    req.extra = {key: value for key, value in body.items() if key not in _KNOWN and value is not None}
    return req


def _pack(vector: list[float]) -> str:
    packed = array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def encode_embeddings_response(
    vectors: list[list[float]], model: str, prompt_tokens: int, encoding_format: EncodingFormat | None
) -> dict[str, Any]:
    """The ``list`` body for ``vectors``; ``base64`` packs each as little-endian float32."""
    as_base64 = encoding_format == "base64"
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _pack(vector) if as_base64 else vector}
            for i, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


class OpenAIEmbeddings:
    """``/v1/embeddings`` as an :class:`~bastion.protocols.embeddings.EmbeddingsCodec`: texts or
    token ids, passed through unchanged to an OpenAI-protocol provider."""

    __slots__ = ()

    def decode(self, body: dict[str, Any], model: str) -> EmbeddingsCall:
        req = decode_embeddings_request(body)
        return EmbeddingsCall(req.inputs, req.dimensions, req.encoding_format, passthrough=True)

    def encode(self, vectors: list[list[float]], model: str, tokens: int, call: EmbeddingsCall) -> bytes:
        fmt: EncodingFormat | None = "base64" if call.encoding_format == "base64" else None
        return orjson.dumps(encode_embeddings_response(vectors, model, tokens, fmt))

    def passthrough_tokens(self, answer: dict[str, Any]) -> int:
        usage = answer.get("usage") or {}
        return int(usage.get("prompt_tokens") or 0)


CODEC = OpenAIEmbeddings()
