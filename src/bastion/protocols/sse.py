"""Server-Sent Events framing, spec-complete and byte-faithful.

:class:`FrameSplitter` cuts an incoming byte stream into whole events (the raw bytes of each, blank
line included) so a pass-through can forward every frame unchanged the moment it is complete while
a parallel parse sniffs usage. Line ends are CRLF, LF or CR, and a CR at the end of one chunk with
an LF at the start of the next is one line break. Lines are never split with ``str.splitlines``,
which would also break on characters that may legally sit inside JSON strings.
"""

from __future__ import annotations

import re

__all__ = ["Event", "FrameSplitter", "encode_event", "parse_frame"]

#: One frame as :meth:`FrameSplitter.events` returns it: its raw bytes, its event name, its data.
Event = tuple[bytes, str | None, bytes | None]

_BLANK_LINE = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?!\n))")
_LINE_END = re.compile(rb"\r\n|\n|\r")


class FrameSplitter:
    """Accumulates bytes and returns each complete SSE frame (raw, terminator included)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add ``chunk``; return the frames it completed, in order."""
        buf = self._buffer + chunk if self._buffer else chunk
        frames: list[bytes] = []
        # ``find`` of one byte, not ``in`` nor ``find(b"\n\n")``: on CPython 3.11 ``bytes in bytes``
        # first tries the needle as an integer (raising and clearing an error), and one byte is
        # found with memchr, several times faster than a two-byte needle.
        if buf.find(b"\r") < 0:
            start = at = 0
            while True:
                end = buf.find(b"\n", at)
                if end < 0 or end + 1 == len(buf):
                    break
                if buf[end + 1] == 0x0A:  # a blank line: the frame ends
                    frames.append(buf[start : end + 2])
                    start = at = end + 2
                    if start == len(buf):
                        break
                else:
                    at = end + 1
            self._buffer = buf[start:] if start else buf
            return frames
        start = 0
        while True:
            match = _BLANK_LINE.search(buf, start)
            if match is None:
                break
            end = match.end()
            if end == len(buf) and buf.endswith(b"\r"):
                break  # may be the first half of a CRLF split across chunks
            frames.append(buf[start:end])
            start = end
        self._buffer = buf[start:]
        return frames

    def events(self, chunk: bytes) -> list[Event]:
        """:meth:`feed`, each frame with its :func:`parse_frame`: ``(frame, event, data)``. A frame
        of one ``data:`` line, the usual shape, is parsed while it is found (no second pass)."""
        buf = self._buffer + chunk if self._buffer else chunk
        if buf.find(b"\r") >= 0:
            return [(frame, *parse_frame(frame)) for frame in self.feed(chunk)]
        out: list[Event] = []
        size = len(buf)
        start = at = 0
        while True:
            end = buf.find(b"\n", at)
            if end < 0 or end + 1 == size:
                break
            if buf[end + 1] != 0x0A:
                at = end + 1
                continue
            frame = buf[start : end + 2]
            if at == start and buf.startswith(b"data: ", start):  # one line, the frame's first
                out.append((frame, None, buf[start + 6 : end]))
            else:
                out.append((frame, *parse_frame(frame)))
            start = at = end + 2
            if start == size:
                break
        self._buffer = buf[start:] if start else buf
        return out

    def finish(self) -> list[bytes]:
        """At end of stream: the frames still held back (one ending in a lone CR waits for a possible
        LF that now never comes). Whatever is left after them is an unterminated event, dropped."""
        buf, self._buffer = self._buffer, b""
        frames: list[bytes] = []
        start = 0
        for match in _BLANK_LINE.finditer(buf):
            frames.append(buf[start : match.end()])
            start = match.end()
        return frames

    def flush(self) -> bytes:
        """What is left at end of stream: an unterminated event, which the spec says to discard."""
        rest, self._buffer = self._buffer, b""
        return rest


def parse_frame(frame: bytes) -> tuple[str | None, bytes | None]:
    """Return ``(event, data)`` of one frame; ``data`` is ``None`` when the frame has no data lines.

    Several ``data:`` lines are joined with LF; comments and unknown fields are ignored; one space
    after the colon is removed.
    """
    # Fast paths for the shapes providers send: ``data: X\n\n`` and ``event: E\ndata: X\n\n``.
    if frame.endswith(b"\n\n") and frame.find(b"\r") < 0:
        if frame.startswith(b"data: ") and frame.find(b"\n") == len(frame) - 2:
            return None, frame[6:-2]
        if frame.startswith(b"event: "):
            cut = frame.find(b"\n")
            if frame.startswith(b"data: ", cut + 1) and frame.find(b"\n", cut + 1) == len(frame) - 2:
                return frame[7:cut].decode("utf-8", "replace"), frame[cut + 7 : -2]
    event: str | None = None
    data: list[bytes] = []
    lines = frame.split(b"\n") if b"\r" not in frame else _LINE_END.split(frame)
    for line in lines:
        if not line or line[0] == 0x3A:  # blank or ":" comment
            continue
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode("utf-8", "replace")
    if not data:
        return event, None
    return event, data[0] if len(data) == 1 else b"\n".join(data)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """One SSE event: optional ``event:`` line, one ``data:`` line (with the space), blank line."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
