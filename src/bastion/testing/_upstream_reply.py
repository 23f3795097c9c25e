"""What a mock upstream handler returns: a whole JSON reply or a stream of SSE frames.

The protocol modules build these; the ASGI app sends them, applying the scripted faults on the way.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from bastion.protocols.sse import encode_event

__all__ = [
    "STREAM_HEADERS",
    "ErrorRenderer",
    "Headers",
    "Reply",
    "Stream",
    "frame",
    "json_reply",
    "last_user_text",
    "next_id",
    "retry_headers",
    "str_field",
    "text_of",
]

Headers = list[tuple[bytes, bytes]]
ErrorRenderer = Callable[[int, str, "float | None"], "Reply"]

_ids = itertools.count(1)
STREAM_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


@dataclass(slots=True)
class Reply:
    """A whole JSON answer."""

    status: int
    body: bytes
    headers: Headers = field(default_factory=list)


@dataclass(slots=True)
class Stream:
    """An SSE answer: frames before the tokens, one frame per token, frames after them.

    ``error`` renders the in-band error frame (from a message) sent instead of the rest when a
    fault asks for one.
    """

    head: list[bytes]
    tokens: list[bytes]
    tail: list[bytes]
    error: Callable[[str], bytes]
    headers: Headers = field(default_factory=lambda: list(STREAM_HEADERS))


def next_id() -> int:
    """A process-wide increasing number for response ids."""
    return next(_ids)


def frame(obj: object, event: str | None = None) -> bytes:
    """One SSE event holding ``obj`` as one-line JSON."""
    return encode_event(orjson.dumps(obj), event)


def json_reply(obj: object, status: int = 200, headers: Headers | None = None) -> Reply:
    """A JSON reply."""
    return Reply(status, orjson.dumps(obj), headers if headers is not None else [])


def retry_headers(retry_after: float | None) -> Headers:
    """The ``retry-after`` header (seconds, as an int when whole), or nothing."""
    if retry_after is None:
        return []
    value = int(retry_after) if float(retry_after).is_integer() else retry_after
    return [(b"retry-after", str(value).encode())]


def text_of(content: object) -> str:
    """The text of a message content: a string, or the ``text`` of each part in a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(turns: object, content_key: str) -> str:
    """The text of the last user turn (a turn without a role counts as the user's, as in Gemini)."""
    if not isinstance(turns, list):
        return ""
    for turn in reversed(turns):
        if isinstance(turn, dict) and turn.get("role", "user") == "user":
            return text_of(turn.get(content_key))
    return ""


def str_field(obj: dict[str, Any], key: str) -> str | None:
    """``obj[key]`` when it is a string."""
    value = obj.get(key)
    return value if isinstance(value, str) else None
