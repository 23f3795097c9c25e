"""The bytes the server writes on its own: status lines and the answers it gives without the app."""

from __future__ import annotations

from http import HTTPStatus

__all__ = ["STATUS_LINES", "plain_response"]


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


#: ``HTTP/1.1 200 OK\r\n`` and the like, for every status an app may send.
STATUS_LINES = {status: _status_line(status) for status in range(100, 600)}


def plain_response(status: int, message: str, *, close: bool = True) -> bytes:
    """A whole ``text/plain`` response with ``message`` (for errors found before the app runs)."""
    body = message.encode("utf-8") + b"\n"
    head = [
        STATUS_LINES[status],
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: %d\r\n" % len(body),
    ]
    if close:
        head.append(b"connection: close\r\n")
    head.append(b"\r\n")
    return b"".join(head) + body
