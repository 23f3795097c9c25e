"""Input items: what a stored response hands to the next one through ``previous_response_id``.

A response is stored with its whole input (already including what its own predecessor
contributed) and its output, so continuing from it takes one read: the stored input, then the
stored output (assistant messages, function calls with their ``call_id``, reasoning items with their
signature), then the new request's input. ``instructions`` are not carried over, as at OpenAI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["continued_input", "listed_items", "normalized_input"]


def normalized_input(raw: object) -> list[dict[str, Any]]:
    """``input`` as a list of items (a string is one user message)."""
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, dict)]
    return []


def continued_input(
    stored_input: list[dict[str, Any]], stored_output: list[dict[str, Any]], new_input: object
) -> list[dict[str, Any]]:
    """The input of a request that continues a stored response."""
    replayed = [_as_input(item) for item in stored_output]
    return [*stored_input, *(item for item in replayed if item is not None), *normalized_input(new_input)]


def _as_input(item: dict[str, Any]) -> dict[str, Any] | None:
    kind = item.get("type")
    if kind == "message":
        replayed = {"type": "message", "role": "assistant", "content": item.get("content") or []}
        if item.get("id"):
            replayed["id"] = item["id"]
        return replayed
    if kind == "reasoning" and not item.get("encrypted_content"):
        return None  # a summary alone cannot be sent back to any provider
    return dict(item)


def listed_items(items: list[dict[str, Any]], response_id: str) -> list[dict[str, Any]]:
    """Input items as ``GET /v1/responses/{id}/input_items`` lists them: each with an ``id``, the
    same on every listing (derived from the response's id and the item's place) so ``after``
    pages through them."""
    out: list[dict[str, Any]] = []
    stem = response_id.removeprefix("resp_")
    for index, item in enumerate(items):
        listed = dict(item)
        kind = listed.setdefault("type", "message")
        if not listed.get("id"):
            listed["id"] = f"{'msg' if kind == 'message' else 'item'}_{stem}_{index}"
        if kind == "message":
            content = listed.get("content")
            if isinstance(content, str):
                listed["content"] = [{"type": "input_text", "text": content}]
            listed.setdefault("status", "completed")
        out.append(listed)
    return out
