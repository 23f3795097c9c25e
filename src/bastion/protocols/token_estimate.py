"""The gateway's one local token estimate: about four characters a token.

Every place that must guess a token count without the provider's answer uses :func:`estimate_tokens`
on what it measured: the prompt estimate that admission reserves against limits and budgets and
routing rules compare (:func:`estimate_body_tokens`, the JSON of what the model reads), the input of
a stream that broke before the provider reported usage (the same function), ``count_tokens``
without a provider endpoint (:mod:`bastion.protocols.anthropic.count_tokens`, over the canonical
request), embeddings served by a provider that reports no usage, and the mock provider's usage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["CHARS_PER_TOKEN", "estimate_body_tokens", "estimate_tokens"]

CHARS_PER_TOKEN = 4

#: What the model reads: chat messages (OpenAI, Anthropic, Gemini), tools, and the ``input`` of
#: embeddings and the Responses API.
_PROMPT_FIELDS = ("messages", "system", "contents", "systemInstruction", "tools", "input", "instructions")


def estimate_tokens(chars: int) -> int:
    """Tokens in ``chars`` characters of text (rounded down; a caller billing a call adds its floor)."""
    return chars // CHARS_PER_TOKEN


def estimate_body_tokens(body: Mapping[str, Any]) -> tuple[int, bool]:
    """The prompt of a request body in any client protocol (at least 1), and whether it asks the
    provider to write a cache (Anthropic's ``cache_control`` markers, priced above plain input)."""
    total = 0
    cache_writes = False
    for name in _PROMPT_FIELDS:
        value = body.get(name)
        if value is not None:
            text = orjson.dumps(value)
            total += len(text)
            cache_writes = cache_writes or b'"cache_control"' in text
    return max(estimate_tokens(total), 1), cache_writes
