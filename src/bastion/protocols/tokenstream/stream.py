"""Canonical stream events to the browser token stream.

Each text delta becomes one line, ``data: {"token": ..., "tokenId": n}``, numbered from 0. The
first carries ``isFirst`` and ``ttfbMs`` (milliseconds from the request's arrival to this token)
and leaves at once, so time to first token is never delayed. After it, each token is held until
the next one (or the end) arrives, so the last one can carry ``isLast``; that costs at most one
token's gap. Should the message end with only the first token sent, an empty ``isLast`` token
closes it. Then ``data: [DONE]``. Should the stream fail, the held token is sent (``flush``) before
the error line. Thinking, signatures and tool-call arguments are not text the
page shows, and are not sent.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from bastion.protocols.canonical import BlockDelta, MessageEnd, StreamEvent

__all__ = ["DONE", "StreamEncoder"]

DONE = b"data: [DONE]\n\n"


class StreamEncoder:
    """One instance per stream; ``elapsed_ms`` says how long ago the request arrived."""

    __slots__ = ("_elapsed_ms", "_held", "_next_id")

    def __init__(self, elapsed_ms: Callable[[], float]) -> None:
        self._elapsed_ms = elapsed_ms
        self._next_id = 0
        self._held: str | None = None

    def encode(self, event: StreamEvent) -> bytes:
        kind = type(event)
        if kind is BlockDelta:
            assert isinstance(event, BlockDelta)
            if event.kind != "text" or not event.value:
                return b""
            if self._next_id == 0:
                self._next_id = 1
                ttfb = round(self._elapsed_ms())
                return _line({"token": event.value, "tokenId": 0, "isFirst": True, "ttfbMs": ttfb})
            out = self._release(last=False)
            self._held = event.value
            return out
        if kind is MessageEnd:
            if self._held is None:
                if self._next_id == 0:
                    return DONE  # an answer with no text at all
                self._held = ""
            return self._release(last=True) + DONE
        return b""

    def flush(self) -> bytes:
        """The held token, when the stream fails before its end (no ``isLast``: it was not)."""
        return self._release(last=False)

    def _release(self, *, last: bool) -> bytes:
        if self._held is None:
            return b""
        chunk: dict[str, object] = {"token": self._held, "tokenId": self._next_id}
        if last:
            chunk["isLast"] = True
        self._held = None
        self._next_id += 1
        return _line(chunk)


def _line(chunk: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"
