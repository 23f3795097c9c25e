"""A local estimate of a request's prompt size, for ``/v1/messages/count_tokens`` and budgets.

This is an **estimate**, not a count: no network call and no tokenizer download. It takes about
four characters per token over every piece of text the model reads (system, messages, tool-call
arguments as JSON, tool results, thinking, tool definitions as JSON), adds a small overhead per
message and for tool use, and a fixed amount per image and per binary document. Real counts for
English prose are usually within ~20%; code and non-Latin scripts run higher.
"""

from __future__ import annotations

import orjson

from bastion.protocols.canonical import (
    ChatRequest,
    ContentPart,
    DocumentPart,
    ImagePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from bastion.protocols.token_estimate import CHARS_PER_TOKEN, estimate_tokens

__all__ = [
    "CHARS_PER_TOKEN",
    "DOCUMENT_TOKENS",
    "IMAGE_TOKENS",
    "estimate_input_tokens",
]

#: A typical image after Anthropic's resizing (about 1.15 megapixels / 750).
IMAGE_TOKENS = 1600
#: A binary document (PDF) whose pages cannot be counted locally: a few pages of text and images.
DOCUMENT_TOKENS = 3000
_MESSAGE_OVERHEAD = 4
_REQUEST_OVERHEAD = 8
#: The system prompt Anthropic adds when tools are present (about 350 tokens).
_TOOLS_OVERHEAD = 350


def estimate_input_tokens(req: ChatRequest) -> int:
    """Estimated prompt tokens of ``req`` (see the module docstring for how)."""
    chars = sum(len(p.text) for p in req.system)
    fixed = _REQUEST_OVERHEAD
    for message in req.messages:
        fixed += _MESSAGE_OVERHEAD
        for part in message.content:
            part_chars, part_fixed = _measure(part)
            chars += part_chars
            fixed += part_fixed
    if req.tools:
        fixed += _TOOLS_OVERHEAD
        for tool in req.tools:
            chars += len(tool.name) + len(tool.description or "") + len(orjson.dumps(tool.parameters))
    return fixed + estimate_tokens(chars)


def _measure(part: ContentPart) -> tuple[int, int]:
    """``(characters, fixed tokens)`` of one part."""
    if isinstance(part, TextPart):
        return len(part.text), 0
    if isinstance(part, ToolCallPart):
        return len(part.name) + len(orjson.dumps(part.arguments)), 0
    if isinstance(part, ToolResultPart):
        chars, fixed = 0, 0
        for inner in part.content:
            inner_chars, inner_fixed = _measure(inner)
            chars += inner_chars
            fixed += inner_fixed
        return chars, fixed
    if isinstance(part, ThinkingPart):
        return len(part.text), 0
    if isinstance(part, ImagePart):
        return 0, IMAGE_TOKENS
    if isinstance(part, DocumentPart):
        if part.media_type == "text/plain" and part.data:
            return len(part.data.rstrip("=")) * 3 // 4, 0  # base64: 4 characters per 3 bytes
        return 0, DOCUMENT_TOKENS
    # RedactedThinkingPart: encrypted reasoning the model reads back; small, and not countable here.
    return 0, 0
