"""A stream's chunks reach the client the same through the direct chunk path (the boundary
scrubber handing each chunk to Bastion's server without an ASGI message) as through ASGI
messages: same bytes, same order, same chunked framing, secrets split across chunks removed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.http_server import RawClient, ServerThread

SECRET = "sk-live-0123456789abcdef"
FRAME = b'data: {"choices":[{"delta":{"content":"tok"}}]}\n\n'
CHUNKS = [
    FRAME,
    b'data: {"choices":[{"delta":{"content":"my key is sk-live-01',  # a secret split across chunks
    b'23456789abcdef and"}}]}\n\n',
    b"",  # nothing: nothing sent
    b"data: half a fr",  # a frame split across chunks, and two in one
    b"ame\n\n" + FRAME + FRAME,
    b'data: "sk-live-0123456789abcdef"\n\n',  # whole within one chunk
    b'data: {"x":"' + b"y" * 20000 + b'"}\n\n',  # larger than the server copies into one write
    b'data: {"content":"sk-live-',  # the stream ends on the start of a secret
]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as running:
        running.seen.chunks = CHUNKS
        running.seen.secrets = [SECRET]
        yield running


def raw_stream(port: int, query: bytes) -> bytes:
    """Everything the server sent for one ``/scrubbed-stream`` request, framing included."""
    with RawClient(port) as client:
        client.send(b"GET /scrubbed-stream?%b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % query)
        assert client.closed()
        return client.received()


def test_the_direct_path_sends_what_asgi_messages_send(server: ServerThread) -> None:
    direct = raw_stream(server.port, b"direct")
    messages = raw_stream(server.port, b"asgi")
    assert direct == messages
    head, _, body = direct.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert SECRET.encode() not in body
    with RawClient(server.port) as client:
        client.send(b"GET /scrubbed-stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, decoded = client.response()
    assert status == 200
    assert decoded == b"".join(CHUNKS).replace(SECRET.encode(), b"[REDACTED]")
