"""The Responses API's endpoints: create, and the stored responses (errors in OpenAI's envelope).

Creating needs a wire format per call and the response store, so its handlers are supplied by the
API under the kinds named here (``responses.create``, ``responses.retrieve``, ...)."""

from __future__ import annotations

from bastion.protocols.openai.surface import ERRORS
from bastion.protocols.openai.wire import OPENAI
from bastion.protocols.surface import JSON_OR_SSE, MODEL, STREAM, Operation, SurfaceSpec, provider_body

__all__ = ["CREATE_BODY", "SURFACE"]

CREATE_BODY = provider_body(
    "OpenAI CreateResponseRequest",
    "https://platform.openai.com/docs/api-reference/responses/create",
    {
        "model": MODEL,
        "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
    },
    optional={
        "instructions": {"type": "string"},
        "stream": STREAM,
        "max_output_tokens": {"type": "integer"},
        "tools": {"type": "array"},
        "previous_response_id": {"type": "string"},
        "store": {"type": "boolean"},
    },
)

_PREFIXES = ("/v1/responses", "/responses", "/openai/v1/responses")


def _operations() -> tuple[Operation, ...]:
    found: list[Operation] = []
    for prefix in _PREFIXES:
        one = f"{prefix}/{{response_id}}"
        found.extend(
            (
                Operation(
                    "responses.create",
                    (prefix,),
                    "OpenAI Responses API: create a response",
                    CREATE_BODY,
                    JSON_OR_SSE,
                ),
                Operation("responses.retrieve", (one,), "A stored response", method="GET"),
                Operation("responses.delete", (one,), "Delete a stored response", method="DELETE"),
                Operation(
                    "responses.input_items",
                    (f"{one}/input_items",),
                    "A stored response's input items",
                    method="GET",
                    query=("limit", "order", "after"),
                ),
            )
        )
    return tuple(found)


#: The wire format here only names the surface for errors; ``responses.create`` makes its own per call.
SURFACE = SurfaceSpec(OPENAI, ERRORS, "openai", _operations())
