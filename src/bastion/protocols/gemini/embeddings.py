"""``embedContent`` and ``batchEmbedContents``, for Gemini upstreams and for Gemini clients.

Upstream, every embedding call goes through ``batchEmbedContents`` (one request, any number of
inputs). On the surface, clients may use either; their inputs are read as plain strings, the text
parts of one ``Content`` joined by newlines.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.domain.errors import InvalidRequestError, UpstreamError
from bastion.protocols.embeddings import EmbeddingsCall
from bastion.protocols.gemini._casing import expect_dict, expect_list, pick

__all__ = [
    "BATCH_EMBED_CONTENTS",
    "EMBED_CONTENT",
    "GeminiEmbeddings",
    "decode_batch_embed_request",
    "decode_embed_content_request",
    "decode_embed_response",
    "embed_dimensions",
    "embed_path",
    "encode_batch_embed_response",
    "encode_embed_content_response",
    "encode_embed_request",
]


def _bare(model: str) -> str:
    return model[len("models/") :] if model.startswith("models/") else model


def embed_path(model: str) -> str:
    """The upstream path of a batch embedding call for ``model``."""
    return f"/v1beta/models/{_bare(model)}:batchEmbedContents"


def encode_embed_request(inputs: list[str], model: str, *, dimensions: int | None) -> dict[str, Any]:
    """A ``batchEmbedContents`` body embedding each of ``inputs``."""
    name = "models/" + _bare(model)
    requests: list[dict[str, Any]] = []
    for text in inputs:
        request: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if dimensions is not None:
            request["outputDimensionality"] = dimensions
        requests.append(request)
    return {"requests": requests}


def decode_embed_response(body: dict[str, Any]) -> list[list[float]]:
    """The vectors of a ``batchEmbedContents`` (or single ``embedContent``) answer, in order."""
    embeddings = body.get("embeddings") if isinstance(body, dict) else None
    if embeddings is None and isinstance(body, dict) and isinstance(body.get("embedding"), dict):
        embeddings = [body["embedding"]]
    if not isinstance(embeddings, list):
        raise UpstreamError("Gemini answered an embedding call without 'embeddings'.", status=502)
    vectors: list[list[float]] = []
    for item in embeddings:
        values = item.get("values") if isinstance(item, dict) else None
        if not isinstance(values, list):
            raise UpstreamError("Gemini answered an embedding without 'values'.", status=502)
        vectors.append(values)
    return vectors


def _content_text(content: Any, param: str) -> str:
    if isinstance(content, str):
        return content
    parts = expect_list(expect_dict(content, param).get("parts"), f"{param}.parts")
    texts: list[str] = []
    for j, part in enumerate(parts):
        text = expect_dict(part, f"{param}.parts[{j}]").get("text")
        if not isinstance(text, str):
            raise InvalidRequestError(
                f"'{param}.parts[{j}]' must be a text part: only text can be embedded here.", param=param
            )
        texts.append(text)
    return "\n".join(texts)


def decode_embed_content_request(body: dict[str, Any], model: str) -> list[str]:
    """The one input of a client's ``embedContent`` body (``model`` is from the path)."""
    body = expect_dict(body, "body")
    content = body.get("content")
    if content is None:
        raise InvalidRequestError("'content' is required: the text to embed.", param="content")
    return [_content_text(content, "content")]


def decode_batch_embed_request(body: dict[str, Any]) -> list[str]:
    """The inputs of a client's ``batchEmbedContents`` body, in order."""
    body = expect_dict(body, "body")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise InvalidRequestError(
            "'requests' must be a non-empty array of EmbedContentRequest.", param="requests"
        )
    inputs: list[str] = []
    for i, raw in enumerate(requests):
        request = expect_dict(raw, f"requests[{i}]")
        content = request.get("content")
        if content is None:
            raise InvalidRequestError(f"'requests[{i}].content' is required.", param=f"requests[{i}].content")
        inputs.append(_content_text(content, f"requests[{i}].content"))
    return inputs


def embed_dimensions(body: dict[str, Any]) -> int | None:
    """``outputDimensionality`` of an ``embedContent`` body, or the one every request of a
    ``batchEmbedContents`` body asks for (the SDKs set it on each request). A batch whose requests
    ask for different sizes is refused: its vectors go upstream in one call, at one size."""
    requests = body.get("requests")
    if not isinstance(requests, list):
        return _dimensions(body, "outputDimensionality")
    asked = {
        _dimensions(request, f"requests[{i}].outputDimensionality")
        for i, request in enumerate(requests)
        if isinstance(request, dict)
    }
    if len(asked) > 1:
        raise InvalidRequestError(
            "Every request of a batchEmbedContents call must ask for the same outputDimensionality "
            "(or none); send requests of different sizes as separate calls.",
            param="requests",
        )
    return asked.pop() if asked else None


def _dimensions(source: dict[str, Any], param: str) -> int | None:
    value = pick(source, "outputDimensionality", "output_dimensionality")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRequestError(f"'{param}' must be a positive integer.", param=param)
    return value


def encode_embed_content_response(vector: list[float]) -> dict[str, Any]:
    """An ``embedContent`` answer."""
    return {"embedding": {"values": vector}}


def encode_batch_embed_response(vectors: list[list[float]]) -> dict[str, Any]:
    """A ``batchEmbedContents`` answer."""
    return {"embeddings": [{"values": vector} for vector in vectors]}


class GeminiEmbeddings:
    """``embedContent`` (``batch=False``) or ``batchEmbedContents`` as an
    :class:`~bastion.protocols.embeddings.EmbeddingsCodec`: texts only, always translated."""

    __slots__ = ("_batch",)

    def __init__(self, *, batch: bool) -> None:
        self._batch = batch

    def decode(self, body: dict[str, Any], model: str) -> EmbeddingsCall:
        texts = decode_batch_embed_request(body) if self._batch else decode_embed_content_request(body, model)
        return EmbeddingsCall(texts, embed_dimensions(body))

    def encode(self, vectors: list[list[float]], model: str, tokens: int, call: EmbeddingsCall) -> bytes:
        if self._batch:
            return orjson.dumps(encode_batch_embed_response(vectors))
        return orjson.dumps(encode_embed_content_response(vectors[0]))

    def passthrough_tokens(self, answer: dict[str, Any]) -> int:
        return 0  # never passed through (see GeminiAdapter.embeddings_passthrough)


EMBED_CONTENT = GeminiEmbeddings(batch=False)
BATCH_EMBED_CONTENTS = GeminiEmbeddings(batch=True)
