"""The OpenAI Responses API: ``POST /v1/responses`` and the stored responses' endpoints.

Creating a response is a generation call like any other: the handler gives the one pipeline a
wire format made for the call (:class:`~bastion.protocols.openai_responses.wire.ResponsesWire`)
and hooks that expand ``previous_response_id`` before admission (so limits, budgets and the cache
see the whole conversation) and store the response before its last byte reaches the client (so a
client that continues at once finds it). ``GET``/``DELETE /v1/responses/{id}`` and ``.../input_items`` read
the store, scoped to the caller's key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from bastion.api.asgi import Request, Send, send_json
from bastion.api.endpoints import Handler
from bastion.api.generation import GenerationHandler
from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.gateway.context import CallContext
from bastion.gateway.response_store import ResponseStore
from bastion.protocols.openai_responses.events import final_in_frames
from bastion.protocols.openai_responses.items import continued_input, listed_items, normalized_input
from bastion.protocols.openai_responses.wire import ResponsesWire

__all__ = ["ResponsesApi"]


class ResponsesApi:
    """The Responses API's endpoints, served through the generation pipeline and the store."""

    def __init__(self, generation: GenerationHandler, store: ResponseStore) -> None:
        self._gen = generation
        self._store = store

    def operations(self) -> dict[str, tuple[Handler, bool]]:
        """The handlers of the operations ``protocols/openai_responses/surface.py`` declares
        (whether each authenticates the caller itself: creating goes through the pipeline)."""
        return {
            "responses.create": (self.create, True),
            "responses.retrieve": (self.retrieve, False),
            "responses.delete": (self.delete, False),
            "responses.input_items": (self.input_items, False),
        }

    async def create(self, request: Request, send: Send) -> None:
        wire = ResponsesWire()  # one per call: it holds the response's id and, at the end, the response
        await self._gen.handle(request, send, wire, hooks=_Call(wire, self._store))

    async def retrieve(self, request: Request, send: Send) -> None:
        stored = await self._store.load(request.caller, request.params["response_id"])
        await send_json(send, 200, stored.response)

    async def delete(self, request: Request, send: Send) -> None:
        response_id = request.params["response_id"]
        await self._store.delete(request.caller, response_id)
        await send_json(send, 200, {"id": response_id, "object": "response.deleted", "deleted": True})

    async def input_items(self, request: Request, send: Send) -> None:
        response_id = request.params["response_id"]
        stored = await self._store.load(request.caller, response_id)
        items = listed_items(stored.input, response_id)
        query = request.query
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise InvalidRequestError("'order' must be 'asc' or 'desc'.", param="order")
        if order == "desc":
            items.reverse()
        after = query.get("after")
        if after:
            ids = [item["id"] for item in items]
            if after not in ids:
                raise NotFoundError(f"No input item with id '{after}' in this response.", param="after")
            items = items[ids.index(after) + 1 :]
        limit_text = query.get("limit", "20")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            raise InvalidRequestError("'limit' must be an integer from 1 to 100.", param="limit")
        page = items[: int(limit_text)]
        await send_json(
            send,
            200,
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(items) > len(page),
            },
        )


class _Call:
    """One ``POST /v1/responses``: its conversation state on the way in and out."""

    __slots__ = ("_input", "_keep", "_saved", "_store", "_wire")

    def __init__(self, wire: ResponsesWire, store: ResponseStore) -> None:
        self._wire = wire
        self._store = store
        self._input: list[dict[str, Any]] = []
        self._keep = True
        self._saved = False

    async def prepare(self, ctx: CallContext, body: dict[str, Any]) -> None:
        model = body.get("model")
        self._wire.bind(body, model if isinstance(model, str) else "")
        self._keep = body.get("store") is not False
        previous = body.pop("previous_response_id", None)
        if previous is not None:
            if not isinstance(previous, str) or not previous:
                raise InvalidRequestError(
                    "'previous_response_id' must be the id of a stored response.",
                    param="previous_response_id",
                )
            try:
                stored = await self._store.load(ctx.principal, previous)
            except NotFoundError:
                raise NotFoundError(
                    f"Previous response with id '{previous}' not found.", param="previous_response_id"
                ) from None
            output = stored.response.get("output")
            body["input"] = continued_input(
                stored.input, output if isinstance(output, list) else [], body.get("input")
            )
        self._input = normalized_input(body.get("input"))
        if not isinstance(body.get("user"), str) and isinstance(body.get("safety_identifier"), str):
            ctx.end_user = body["safety_identifier"]

    async def answered(self, ctx: CallContext, out: bytes) -> None:
        final = self._wire.final
        if final is None:  # passed through: the upstream's own response
            try:
                parsed = orjson.loads(out)
            except orjson.JSONDecodeError:
                return
            final = parsed if isinstance(parsed, dict) else None
        await self._save(ctx, final)

    async def stream(self, ctx: CallContext, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in frames:
                if not self._saved:
                    wire = self._wire
                    final = wire.final if wire.encodes else final_in_frames(chunk)
                    if final is not None:
                        await self._save(ctx, final)
                yield chunk
        finally:
            # Closed early (the client left): the relay's own clean-up (record, close upstream) runs now.
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _save(self, ctx: CallContext, final: dict[str, Any] | None) -> None:
        self._saved = True
        if not self._keep or final is None or not isinstance(final.get("id"), str):
            return
        await self._store.save(ctx.principal, final, self._input)
