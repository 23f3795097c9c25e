"""The official SDKs talk to Bastion exactly as they talk to their providers (same protocol both sides)."""

from __future__ import annotations

import anthropic
import openai
from google import genai
from google.genai import types as genai_types

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY


def openai_client(gw: RunningGateway, key: str = MASTER_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)


def anthropic_client(gw: RunningGateway, key: str = MASTER_KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)


def genai_client(gw: RunningGateway, key: str = MASTER_KEY) -> genai.Client:
    return genai.Client(api_key=key, http_options=genai_types.HttpOptions(base_url=gw.url))


def test_openai_chat_non_streaming(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """A chat completion passes through with the provider key swapped in and the model rewritten."""
    resp = openai_client(gateway).chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hello there"}], max_tokens=5
    )
    assert resp.choices[0].message.content == "alpha bravo charlie delta echo"
    assert resp.usage is not None and resp.usage.completion_tokens == 5
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert isinstance(sent.body, dict) and sent.body["model"] == "gpt-4.1-mini"


def test_openai_stream_without_usage_request_hides_the_usage_chunk(
    gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """Bastion asks upstream for usage but does not hand the extra chunk to a client that did not ask."""
    stream = openai_client(gateway).chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "alpha bravo charlie delta"
    assert all(c.choices for c in chunks), "the usage-only chunk leaked to the client"
    body = upstream.requests[-1].body
    assert isinstance(body, dict) and body["stream_options"] == {"include_usage": True}
    records = gateway.request_records()
    assert records[-1]["output_tokens"] == 4 and records[-1]["usage_estimated"] is False


def test_openai_stream_with_usage_request_keeps_the_usage_chunk(gateway: RunningGateway) -> None:
    """A client that asks for usage in the stream gets the final usage chunk."""
    stream = openai_client(gateway).chat.completions.create(
        model="gpt",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_anthropic_messages_forward_version_and_beta_headers(
    gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """anthropic-version and anthropic-beta reach an Anthropic upstream unchanged; the key is swapped."""
    client = anthropic_client(gateway)
    message = client.messages.create(
        model="claude",
        max_tokens=3,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14",
        },
    )
    assert message.content[0].type == "text" and message.content[0].text == "alpha bravo charlie"
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == UPSTREAM_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert (
        sent.headers["anthropic-beta"]
        == "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
    )


def test_anthropic_stream_with_claude_code_path(gateway: RunningGateway) -> None:
    """Claude Code's ``?beta=true`` query is accepted and the SSE events arrive with their event lines."""
    client = anthropic.Anthropic(
        base_url=gateway.url, auth_token=MASTER_KEY, max_retries=0, default_query={"beta": "true"}
    )
    with client.messages.stream(
        model="claude", max_tokens=4, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "alpha bravo charlie delta"
    assert final.usage.output_tokens == 4 and final.stop_reason == "end_turn"


def test_unknown_fields_survive_pass_through(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """Fields Bastion does not know are forwarded untouched on a same-protocol call."""
    anthropic_client(gateway).messages.create(
        model="claude",
        max_tokens=2,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]}},
    )
    body = upstream.requests[-1].body
    assert isinstance(body, dict)
    assert body["context_management"] == {"edits": [{"type": "clear_tool_uses_20250919"}]}


def test_gemini_generate_and_stream(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """google-genai generateContent and streamGenerateContent pass through to a Gemini upstream."""
    client = genai_client(gateway)
    config = genai_types.GenerateContentConfig(max_output_tokens=3)
    resp = client.models.generate_content(model="gemini", contents="hi", config=config)
    assert resp.text == "alpha bravo charlie"
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    pieces = [
        c.text for c in client.models.generate_content_stream(model="gemini", contents="hi", config=config)
    ]
    assert "".join(p or "" for p in pieces) == "alpha bravo charlie"
    assert upstream.requests[-1].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
