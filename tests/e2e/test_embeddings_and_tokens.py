"""Embeddings, model listings and token counting through the official SDKs."""

from __future__ import annotations

import anthropic
import openai
import orjson
import pytest
from google.genai import types
from test_errors_and_auth import raw_post
from test_sdk_passthrough import anthropic_client, genai_client, openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY


def test_openai_embeddings_pass_through_with_sdk_base64(
    gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """The SDK asks for base64 by default; the upstream's answer passes through and decodes to floats."""
    resp = openai_client(gateway).embeddings.create(model="gpt", input=["one", "two"])
    assert [len(item.embedding) for item in resp.data] == [8, 8]
    body = upstream.requests[-1].body
    assert isinstance(body, dict) and body["encoding_format"] == "base64" and body["model"] == "gpt-4.1-mini"


@pytest.mark.parametrize("group", ["gemini", "mock"])
def test_openai_embeddings_translated(gateway: RunningGateway, upstream: MockUpstream, group: str) -> None:
    """OpenAI embeddings against a Gemini (batchEmbedContents) or mock group come back in OpenAI's shape."""
    client = openai_client(gateway)
    as_base64 = client.embeddings.create(model=group, input=["one", "two"])
    as_float = client.embeddings.create(model=group, input=["one", "two"], encoding_format="float")
    assert len(as_base64.data) == 2
    for packed, plain in zip(as_base64.data, as_float.data, strict=True):
        assert packed.embedding == pytest.approx(plain.embedding, rel=1e-6)
    if group == "gemini":
        assert upstream.requests[-1].path == "/v1beta/models/gemini-2.5-flash:batchEmbedContents"


def test_embeddings_on_anthropic_group_is_a_clear_error(gateway: RunningGateway) -> None:
    """Anthropic has no embeddings API; the error says so."""
    with pytest.raises(openai.BadRequestError) as info:
        openai_client(gateway).embeddings.create(model="claude", input="x")
    assert "no embeddings API" in info.value.message


def test_gemini_embed_content(gateway: RunningGateway) -> None:
    """google-genai embed_content works against an OpenAI-backed group."""
    client = genai_client(gateway)
    resp = client.models.embed_content(model="gpt", contents=["hello", "world"])
    assert resp.embeddings is not None and len(resp.embeddings) == 2
    assert resp.embeddings[0].values is not None and len(resp.embeddings[0].values) == 8


@pytest.mark.parametrize("group", ["gemini", "gpt", "mock"])
def test_gemini_embed_content_keeps_the_asked_size(
    gateway: RunningGateway, upstream: MockUpstream, group: str
) -> None:
    """The SDK puts ``output_dimensionality`` on each request of its batch: the vectors come back
    at that size whichever provider serves the group (it used to be dropped, giving full-size vectors)."""
    client = genai_client(gateway)
    resp = client.models.embed_content(
        model=group, contents=["hello", "world"], config=types.EmbedContentConfig(output_dimensionality=4)
    )
    assert resp.embeddings is not None
    assert [len(e.values or []) for e in resp.embeddings] == [4, 4]
    if group != "mock":
        body = upstream.requests[-1].body
        assert isinstance(body, dict)
        asked = (
            [r["outputDimensionality"] for r in body["requests"]]
            if group == "gemini"
            else [body["dimensions"]]
        )
        assert set(asked) == {4}


def test_gemini_batch_of_mixed_sizes_is_refused_in_geminis_shape(gateway: RunningGateway) -> None:
    """Requests of one batch asking for different sizes get a 400 that says what to do."""
    body = {
        "requests": [
            {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4},
            {"content": {"parts": [{"text": "b"}]}, "outputDimensionality": 8},
        ]
    }
    status, answer, _ = raw_post(
        gateway.url + "/v1beta/models/gpt:batchEmbedContents",
        orjson.dumps(body),
        {"x-goog-api-key": MASTER_KEY},
    )
    assert status == 400
    error = answer["error"]
    assert error["status"] == "INVALID_ARGUMENT" and "same outputDimensionality" in error["message"]


def test_count_tokens_asks_anthropic(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """/v1/messages/count_tokens on an Anthropic-backed group is answered by the provider."""
    client = anthropic_client(gateway)
    counted = client.messages.count_tokens(model="claude", messages=[{"role": "user", "content": "hi there"}])
    assert counted.input_tokens > 0
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages/count_tokens" and sent.headers["x-api-key"] == UPSTREAM_KEY
    assert isinstance(sent.body, dict) and "max_tokens" not in sent.body


def test_count_tokens_estimates_elsewhere(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """On a group whose provider cannot count, a local estimate answers and grows with the prompt."""
    client = anthropic_client(gateway)
    short = client.messages.count_tokens(model="gpt", messages=[{"role": "user", "content": "hi"}])
    long = client.messages.count_tokens(model="gpt", messages=[{"role": "user", "content": "hi " * 400}])
    assert 0 < short.input_tokens < long.input_tokens
    assert upstream.requests == []


def test_gemini_count_tokens(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """google-genai count_tokens on a Gemini group is answered by the provider's :countTokens."""
    client = genai_client(gateway)
    assert (client.models.count_tokens(model="gemini", contents="hello there").total_tokens or 0) > 0
    assert upstream.requests[-1].path == "/v1beta/models/gemini-2.5-flash:countTokens"


def test_model_listings(gateway: RunningGateway) -> None:
    """/v1/models answers OpenAI's list, or Anthropic's when the caller is an Anthropic client."""
    assert [m.id for m in openai_client(gateway).models.list()] == ["gpt", "claude", "gemini", "mock"]
    assert [m.id for m in anthropic_client(gateway).models.list()] == ["gpt", "claude", "gemini", "mock"]
    assert openai_client(gateway).models.retrieve("claude").id == "claude"
    with pytest.raises(openai.NotFoundError):
        openai_client(gateway).models.retrieve("nope")
    client = genai_client(gateway)
    names = [m.name for m in client.models.list()]
    assert names == ["models/gpt", "models/claude", "models/gemini", "models/mock"]


def test_anthropic_model_listing_needs_a_key(gateway: RunningGateway) -> None:
    """Model discovery is authenticated like everything else."""
    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client(gateway, key="sk-wrong-000000").models.list()
