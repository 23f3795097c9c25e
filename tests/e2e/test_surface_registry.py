"""Adding a surface is its protocol package plus one registration line (issue 13).

A fake surface, declared the way a protocol package declares one and added to the registration
list, gets its routes (chat through the pipeline, count_tokens), its own error envelope on every
refusal (a bad body, an unknown model, a wrong method) and its entry in ``/openapi.json``, with no
line of ``api/server.py`` touched. A toy surface with a wire format of its own (chat and embeddings
bodies no real API uses, its own model listing, claiming ``GET /v1/models`` for its clients) is
served the same way. And the real surfaces' paths are written only in their packages.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from bastion.api import surfaces
from bastion.domain.errors import BastionError, InvalidRequestError
from bastion.protocols.canonical import ChatRequest, ChatResponse, Message, TextPart
from bastion.protocols.embeddings import EmbeddingsCall
from bastion.protocols.openai.wire import OpenAIWire
from bastion.protocols.surface import LISTING_PATHS, ErrorEnvelope, ListedModel, Operation, SurfaceSpec
from bastion.protocols.tokenstream import surface as tokenstream
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models

AUTH = {"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"}


class _FakeWire(OpenAIWire):
    """OpenAI's bodies under another name, with an error envelope no real surface uses."""

    __slots__ = ()
    name = "fake"

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        return err.status, orjson.dumps({"fake_error": {"says": err.message}}), {}


_FAKE = _FakeWire()
_SCHEMA = {"type": "object", "properties": {"fake_error": {"type": "object"}}, "required": ["fake_error"]}
_BODY = {"title": "Fake chat request", "type": "object", "additionalProperties": True}
FAKE = SurfaceSpec(
    _FAKE,
    ErrorEnvelope(_FAKE, "FakeError", _SCHEMA),
    "fake",
    (
        Operation("chat", ("/fake/v1/chat",), "Fake chat", _BODY),
        Operation("count_tokens", ("/fake/v1/chat/count",), "Fake count", _BODY),
    ),
    count_body=lambda body: body,
    count_answer=lambda count: orjson.dumps({"fake_tokens": count}),
)


class _ToyWire(OpenAIWire):
    """A protocol of its own: ``{"say": ...}`` in, ``{"toy_answer": ...}`` out, never passed through."""

    __slots__ = ()
    name = "toy"
    passthrough = None

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
        say = body.get("say")
        if not isinstance(say, str):
            raise InvalidRequestError("'say' is required: what to ask.")
        return ChatRequest(model=model, messages=[Message("user", [TextPart(say)])])

    def encode_response(self, resp: ChatResponse, model: str) -> bytes:
        text = "".join(part.text for part in resp.content if isinstance(part, TextPart))
        return orjson.dumps({"toy_answer": text, "toy_group": model})

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        return err.status, orjson.dumps({"toy_error": err.message}), {}


class _ToyEmbeddings:
    """``{"texts": [...], "size": n}`` in, ``{"toy_vectors": [...]}`` out."""

    def decode(self, body: dict[str, Any], model: str) -> EmbeddingsCall:
        texts = body.get("texts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise InvalidRequestError("'texts' must be a non-empty list of strings.")
        size = body.get("size")
        return EmbeddingsCall(texts, size if isinstance(size, int) else None)

    def encode(self, vectors: list[list[float]], model: str, tokens: int, call: EmbeddingsCall) -> bytes:
        return orjson.dumps({"toy_vectors": vectors, "toy_group": model, "toy_tokens": tokens})

    def passthrough_tokens(self, answer: dict[str, Any]) -> int:
        raise AssertionError("a toy body never passes through")


def _toy_listing(models: Sequence[ListedModel]) -> bytes:
    return orjson.dumps({"toys": [model.name for model in models]})


_TOY = _ToyWire()
TOY = SurfaceSpec(
    _TOY,
    ErrorEnvelope(_TOY, "ToyError", {"type": "object"}),
    "toy",
    (
        Operation("chat", ("/toy/{model}/ask",), "Toy chat", _BODY),
        Operation("embeddings", ("/toy/{model}/embed",), "Toy embeddings", _BODY, codec=_ToyEmbeddings()),
        Operation(
            "models", ("/toy/models", *LISTING_PATHS), "Toy listing", method="GET", listing=_toy_listing
        ),
    ),
    claims=lambda headers: "x-toy-client" in headers,
)


def _call(
    gateway: RunningGateway, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = body if body is None or isinstance(body, bytes) else orjson.dumps(body)
    request = urllib.request.Request(
        gateway.url + path, data=data, method=method, headers={**AUTH, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


@pytest.fixture
def faked(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, monkeypatch: pytest.MonkeyPatch
) -> RunningGateway:
    monkeypatch.setattr(surfaces, "SURFACES", (*surfaces.SURFACES, FAKE, TOY))  # the one registration line
    return start_gateway({"model_list": standard_models(upstream.url)})


def test_a_registered_surface_gets_its_routes_errors_and_openapi_entry(faked: RunningGateway) -> None:
    chat = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
    status, answer = _call(faked, "POST", "/fake/v1/chat", chat)
    assert status == 200 and answer["choices"][0]["message"]["content"]
    status, answer = _call(faked, "POST", "/fake/v1/chat/count", chat)
    assert status == 200 and answer["fake_tokens"] > 0

    status, answer = _call(faked, "POST", "/fake/v1/chat", {"model": "nope", "messages": chat["messages"]})
    assert status in (400, 404) and "nope" in answer["fake_error"]["says"]
    status, answer = _call(faked, "POST", "/fake/v1/chat", b"{not json")
    assert status == 400 and "fake_error" in answer
    status, answer = _call(faked, "GET", "/fake/v1/chat")
    assert status == 405 and "POST" in answer["fake_error"]["says"]

    status, document = _call(faked, "GET", "/openapi.json")
    assert status == 200
    post = document["paths"]["/fake/v1/chat"]["post"]
    assert post["tags"] == ["fake"] and post["summary"] == "Fake chat"
    assert document["components"]["schemas"]["FakeError"] == _SCHEMA
    # The record names the new surface (the pipeline asked its wire format, not a list of names).
    assert any(record.surface == "fake" for record in _records(faked))


def test_a_surface_with_its_own_wire_format_serves_chat_embeddings_and_its_listing(
    faked: RunningGateway,
) -> None:
    status, answer = _call(faked, "POST", "/toy/gpt/ask", {"say": "hi"})
    assert status == 200 and answer["toy_answer"] and answer["toy_group"] == "gpt"
    status, answer = _call(faked, "POST", "/toy/gpt/ask", {"messages": []})
    assert status == 400 and "'say' is required" in answer["toy_error"]

    # Embeddings: translated for an OpenAI upstream (the toy protocol never passes through) and
    # embedded in-process by the mock provider, answered in the toy's shape both times.
    for group in ("gpt", "mock"):
        status, answer = _call(faked, "POST", f"/toy/{group}/embed", {"texts": ["one", "two"], "size": 8})
        assert status == 200, answer
        assert answer["toy_group"] == group and answer["toy_tokens"] >= 2
        assert [len(vector) for vector in answer["toy_vectors"]] == [8, 8]
    status, answer = _call(faked, "POST", "/toy/gpt/embed", {"texts": "one"})
    assert status == 400 and "'texts'" in answer["toy_error"]
    status, answer = _call(faked, "POST", "/toy/claude/embed", {"texts": ["one"]})
    assert status == 400 and "no embeddings API" in answer["toy_error"]

    # Its own listing path; the shared /v1/models when its client says so, else OpenAI's shape.
    status, answer = _call(faked, "GET", "/toy/models")
    assert status == 200 and {"gpt", "claude", "gemini", "mock"} <= set(answer["toys"])
    status, answer = _call(faked, "GET", "/v1/models", headers={"x-toy-client": "1"})
    assert status == 200 and "gpt" in answer["toys"]
    status, answer = _call(faked, "GET", "/v1/models")
    assert status == 200 and answer["object"] == "list"
    status, answer = _call(
        faked, "GET", "/v1/models", headers={"x-toy-client": "1", "authorization": "Bearer no"}
    )
    assert status == 401 and "toy_error" in answer
    status, answer = _call(faked, "GET", "/nowhere", headers={"x-toy-client": "1"})
    assert status == 404 and "/nowhere" in answer["toy_error"]
    assert {record.surface for record in _records(faked)} >= {"toy"}


def _records(gateway: RunningGateway) -> list[Any]:
    found = []
    while not gateway.records.empty():
        found.append(gateway.records.get_nowait())
    return found


_API = Path(__file__).resolve().parents[2] / "src" / "bastion" / "api"


def test_the_surfaces_paths_are_written_only_in_their_protocol_packages() -> None:
    """No module of api/ spells a generation surface's path (the browser token streams' included):
    server.py builds them from the list, the browser room from the token-stream surfaces."""
    declared = [*surfaces.SURFACES, *(stream.surface for stream in tokenstream.STREAMS)]
    literals = {
        re.sub(r"\{[^}]*\}", "", path).rstrip("/:")
        for spec in declared
        for op in spec.operations
        for path in op.paths
    }
    literals = {lit for lit in literals if lit.count("/") >= 2}  # '/v1/responses', not '/v1beta/models/'
    for source in _API.rglob("*.py"):
        text = source.read_text()
        for literal in sorted(literals):
            assert f'"{literal}"' not in text, f"{source.name} names the surface path {literal}"
    server = (_API / "server.py").read_text()
    assert "import surfaces as registry" in server and "registry.SURFACES" in server
