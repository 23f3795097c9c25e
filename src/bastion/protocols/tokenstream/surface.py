"""The browser token stream's endpoints: one per request-body shape, declared like every surface.

The browser room (``api/browser``) serves them at the paths ``bastion_settings.browser`` names
(the defaults are the operations' paths), with what is browser-specific: CORS, its admission rules,
token minting. What belongs to the protocol is here: the wire format, the error envelope, each
endpoint's body schema and the body fields its shape takes (a page may send no other).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.protocols.anthropic.surface import MESSAGES_BODY
from bastion.protocols.openai.surface import CHAT_BODY
from bastion.protocols.surface import SSE, ErrorEnvelope, Operation, SurfaceSpec
from bastion.protocols.tokenstream.wire import TOKENSTREAM_ANTHROPIC, TOKENSTREAM_OPENAI, TokenStreamWire

__all__ = ["ANTHROPIC_BODIED", "ERRORS", "OPENAI_BODIED", "STREAMS", "TokenStream"]

ERRORS = ErrorEnvelope(
    TOKENSTREAM_OPENAI,
    "TokenStreamError",
    {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "status": {"type": "integer"},
                    "message": {"type": "string"},
                    "retry_after": {"type": ["number", "null"]},
                },
            }
        },
        "required": ["error"],
    },
)


@dataclass(frozen=True, slots=True)
class TokenStream:
    """A token-stream surface (one ``chat`` operation, always streamed), the plain fields of its
    body shape and the ones that bound the answer's length (``max_tokens`` and its aliases)."""

    surface: SurfaceSpec
    fields: frozenset[str]
    max_tokens: tuple[str, ...]


def _surface(wire: TokenStreamWire, path: str, summary: str, body: Mapping[str, Any]) -> SurfaceSpec:
    return SurfaceSpec(
        wire, ERRORS, "tokenstream", (Operation("chat", (path,), summary, body, SSE, stream=True),)
    )


ANTHROPIC_BODIED = TokenStream(
    _surface(TOKENSTREAM_ANTHROPIC, "/api/anthropic", "Token stream, Anthropic-shaped body", MESSAGES_BODY),
    frozenset(
        {
            "model",
            "messages",
            "max_tokens",
            "system",
            "temperature",
            "top_p",
            "top_k",
            "stop_sequences",
            "stream",
        }
    ),
    ("max_tokens",),
)
OPENAI_BODIED = TokenStream(
    _surface(TOKENSTREAM_OPENAI, "/api/openai", "Token stream, OpenAI-shaped body", CHAT_BODY),
    frozenset(
        {
            "model",
            "messages",
            "max_tokens",
            "max_completion_tokens",
            "temperature",
            "top_p",
            "stop",
            "seed",
            "stream",
        }
    ),
    ("max_tokens", "max_completion_tokens"),
)
#: Both token streams, as the browser room serves them.
STREAMS = (ANTHROPIC_BODIED, OPENAI_BODIED)
