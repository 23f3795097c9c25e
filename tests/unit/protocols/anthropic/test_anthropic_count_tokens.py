"""estimate_input_tokens: a local, network-free prompt size estimate."""

from __future__ import annotations

import base64

from bastion.protocols.anthropic.count_tokens import DOCUMENT_TOKENS, IMAGE_TOKENS, estimate_input_tokens
from bastion.protocols.canonical import (
    ChatRequest,
    DocumentPart,
    ImagePart,
    Message,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)


def _req(*parts: object, **fields: object) -> ChatRequest:
    return ChatRequest(model="m", messages=[Message("user", list(parts))], **fields)  # type: ignore[arg-type]


def test_text_is_about_four_characters_per_token() -> None:
    """4,000 characters of text estimate to about 1,000 tokens plus a small overhead."""
    estimate = estimate_input_tokens(_req(TextPart("a" * 4000)))
    assert 1000 <= estimate <= 1020


def test_system_tools_and_tool_traffic_count() -> None:
    """System text, tool definitions, tool-call arguments and tool results all add tokens."""
    base = estimate_input_tokens(_req(TextPart("hi")))
    assert estimate_input_tokens(_req(TextPart("hi"), system=[TextPart("s" * 400)])) == base + 100
    with_tools = estimate_input_tokens(_req(TextPart("hi"), tools=[Tool("lookup", "Look it up")]))
    assert with_tools > base + 350
    call = ToolCallPart("t", "f", {"query": "x" * 400})
    assert estimate_input_tokens(_req(TextPart("hi"), call)) > base + 100
    result = ToolResultPart("t", [TextPart("r" * 400), ImagePart(url="u")])
    assert estimate_input_tokens(_req(TextPart("hi"), result)) >= base + 100 + IMAGE_TOKENS
    assert estimate_input_tokens(_req(TextPart("hi"), ThinkingPart("t" * 40))) == base + 10
    assert estimate_input_tokens(_req(TextPart("hi"), RedactedThinkingPart("x" * 400))) == base


def test_images_and_documents_are_fixed_or_sized() -> None:
    """Images and PDFs count a fixed amount; plain-text documents count their text."""
    empty = estimate_input_tokens(_req())
    assert estimate_input_tokens(_req(ImagePart(data="iVBO"))) == empty + IMAGE_TOKENS
    assert estimate_input_tokens(_req(DocumentPart(data="JVBE"))) == empty + DOCUMENT_TOKENS
    text = base64.b64encode(b"w" * 400).decode()
    assert estimate_input_tokens(_req(DocumentPart(media_type="text/plain", data=text))) == empty + 100


def test_more_messages_cost_more() -> None:
    """Each message adds a per-message overhead."""
    one = ChatRequest(model="m", messages=[Message("user", [TextPart("")])])
    two = ChatRequest(model="m", messages=[Message("user", [TextPart("")]), Message("assistant", [])])
    assert estimate_input_tokens(two) > estimate_input_tokens(one)
