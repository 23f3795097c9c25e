"""JSON Schemas of the gateway's own request bodies, for ``/openapi.json``.

The generation surfaces' bodies are declared by their protocol packages (``protocols/*/surface.py``)
with their operations; this module keeps the bodies of the routes that are not a protocol's.
"""

from __future__ import annotations

from bastion.protocols.surface import JSON, MODEL

__all__ = ["DRY_RUN", "JSON"]

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
