"""JSON Schemas of the client surfaces' request bodies, for ``/openapi.json``.

The generation bodies are declared by their protocol packages (``protocols/*/surface.py``) and
re-exported here for the routers that reuse them; this module keeps the gateway's own bodies.
"""

from __future__ import annotations

from bastion.protocols.anthropic.surface import COUNT_TOKENS_BODY as ANTHROPIC_COUNT_TOKENS
from bastion.protocols.anthropic.surface import MESSAGES_BODY as ANTHROPIC_MESSAGES
from bastion.protocols.gemini.surface import BODIES as GEMINI_BODIES
from bastion.protocols.openai.surface import CHAT_BODY as OPENAI_CHAT
from bastion.protocols.openai.surface import EMBEDDINGS_BODY as OPENAI_EMBEDDINGS
from bastion.protocols.openai_responses.surface import CREATE_BODY as OPENAI_RESPONSES
from bastion.protocols.surface import JSON, JSON_OR_SSE, MODEL, SSE

__all__ = [
    "ANTHROPIC_COUNT_TOKENS",
    "ANTHROPIC_MESSAGES",
    "DRY_RUN",
    "GEMINI_BODIES",
    "JSON",
    "JSON_OR_SSE",
    "OPENAI_CHAT",
    "OPENAI_EMBEDDINGS",
    "OPENAI_RESPONSES",
    "SSE",
]

DRY_RUN = {
    "title": "Routing dry run",
    "type": "object",
    "description": "A request as a client would send it; nothing is sent upstream.",
    "properties": {
        "model": MODEL,
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "team_id": {"type": "string"},
    },
    "required": ["model"],
    "additionalProperties": True,
}
