"""Bastion's HTTP server speaks HTTP/1.1 correctly: keep-alive, pipelining, chunked bodies,
100-continue, HEAD, HTTP/1.0, and clear 4xx answers (then a close) to requests it cannot take."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.http_server import RawClient, ServerThread

GET = b"GET /echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(max_header_kib=4) as running:
        yield running


def post(body: bytes, path: bytes = b"/echo", extra: bytes = b"") -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (path, len(body), extra)
    return head + body


def test_keep_alive_serves_several_requests_on_one_connection(server: ServerThread) -> None:
    """Requests one after another on one connection all get their answer; the connection stays open."""
    with RawClient(server.port) as client:
        for body in (b"one", b"two", b"three"):
            client.send(post(body))
            status, headers, answer = client.response()
            assert (status, answer) == (200, body)
            assert "connection" not in headers
        assert server.connections() == 1


def test_pipelined_requests_are_answered_in_order(server: ServerThread) -> None:
    """Three requests sent in one write get three answers, in the order sent."""
    with RawClient(server.port) as client:
        client.send(post(b"first") + GET + post(b"third"))
        answers = [client.response() for _ in range(3)]
    assert [a[2] for a in answers] == [b"first", b"", b"third"]
    assert answers[1][1]["x-method"] == "GET" and answers[1][1]["x-query"] == "a=1"


def test_chunked_request_body_reaches_the_app_whole(server: ServerThread) -> None:
    """A chunked request body, sent in pieces, arrives at the app as the bytes it encodes."""
    with RawClient(server.port) as client:
        client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        client.send(b"6\r\n world\r\n0\r\n\r\n")
        status, _, body = client.response()
    assert (status, body) == (200, b"hello world")


def test_expect_100_continue_is_answered_when_the_app_reads_the_body(server: ServerThread) -> None:
    """With ``Expect: 100-continue`` the client hears 100 Continue, then sends the body."""
    with RawClient(server.port) as client:
        client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert client.response()[0] == 100
        client.send(b"ping")
        status, _, body = client.response()
    assert (status, body) == (200, b"ping")


def test_an_answer_before_the_body_skips_100_continue_and_closes(server: ServerThread) -> None:
    """An app that answers without reading the body (413) sends no 100 Continue; the connection
    closes after the answer, so an unsent body can never be read as the next request."""
    with RawClient(server.port) as client:
        client.send(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 9999\r\nExpect: 100-continue\r\n")
        client.send(b"\r\n")
        status, headers, body = client.response()
        assert (status, body) == (413, b"too large")
        assert headers["connection"] == "close"
        assert client.closed()


def test_head_gets_the_headers_and_no_body(server: ServerThread) -> None:
    """HEAD is answered with the GET's headers (content-length included) and no body bytes."""
    with RawClient(server.port) as client:
        client.send(b"HEAD /early HTTP/1.1\r\nHost: x\r\n\r\n" + GET)
        status, headers, _ = client.response(head_only=True)
        assert status == 413 and headers["content-length"] == "9"
        # The next response starts right where the HEAD answer's head ended: no body in between.
        assert client.response()[0] == 200


def test_streamed_response_is_chunked_and_ends_cleanly(server: ServerThread) -> None:
    """A response without content-length goes out chunked and ends with the last chunk."""
    with RawClient(server.port) as client:
        client.send(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = client.response()
        assert headers["transfer-encoding"] == "chunked"
        assert (status, body) == (200, b"data: 0\n\ndata: 1\n\ndata: 2\n\n")
        client.send(GET)
        assert client.response()[0] == 200  # and the connection is still usable


def test_http_1_0_is_answered_then_closed(server: ServerThread) -> None:
    """An HTTP/1.0 client without keep-alive gets its answer, a close, and a stream without chunking."""
    with RawClient(server.port) as client:
        client.send(b"GET /stream HTTP/1.0\r\n\r\n")
        _, headers, body = client.response()
        assert "transfer-encoding" not in headers and headers["connection"] == "close"
        assert body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"garbage\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=[
        "not-http",
        "bad-version",
        "control-char-in-target",
        "space-in-header-name",
        "content-length-and-chunked",
        "two-content-lengths",
        "negative-length",
        "bad-chunk-size",
        "non-ascii-target",
    ],
)
def test_malformed_requests_get_400_and_a_close(server: ServerThread, request_bytes: bytes) -> None:
    """A request the parser refuses gets 400 with a plain message, then the connection closes."""
    with RawClient(server.port) as client:
        client.send(request_bytes)
        status, headers, body = client.response()
        assert status == 400 and headers["connection"] == "close"
        assert b"Invalid" in body
        assert client.closed()


def test_oversized_headers_get_431(server: ServerThread) -> None:
    """Headers over ``max_header_kib`` (4 KiB here) get 431 and a close."""
    with RawClient(server.port) as client:
        client.send(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
        status, headers, _ = client.response()
        assert status == 431 and headers["connection"] == "close"
        assert client.closed()


def test_an_endless_header_line_gets_431_before_it_ends(server: ServerThread) -> None:
    """A header that never ends is refused once it passes the limit, not buffered forever."""
    with RawClient(server.port) as client:
        client.send(b"GET /echo HTTP/1.1\r\nX-Big: ")
        for _ in range(64):
            try:
                client.send(b"a" * 1024)
            except (BrokenPipeError, ConnectionResetError):
                break
        assert client.closed()
        assert client.received().startswith(b"HTTP/1.1 431 ")


def test_many_small_headers_count_towards_the_limit(server: ServerThread) -> None:
    """Many short headers add up: 2,000 of them are over 4 KiB and get 431."""
    with RawClient(server.port) as client:
        client.send(b"GET /echo HTTP/1.1\r\n" + b"a: b\r\n" * 2000 + b"\r\n")
        assert client.response()[0] == 431


def test_an_app_error_is_a_500_and_the_server_goes_on(server: ServerThread) -> None:
    """An exception in the app is a plain 500 for that request; other connections are unaffected."""
    with RawClient(server.port) as client:
        client.send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.response()[0] == 500
    with RawClient(server.port) as client:
        client.send(b"GET /forgot HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.response()[0] == 500  # an app that never answered
    with RawClient(server.port) as client:
        client.send(GET)
        assert client.response()[0] == 200


def test_percent_encoded_path_is_decoded_and_raw_path_kept(server: ServerThread) -> None:
    """The path is percent-decoded for routing (``/ech%6f`` is ``/echo``)."""
    with RawClient(server.port) as client:
        client.send(b"GET /ech%6f HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.response()[0] == 200


def test_absolute_form_target_is_routed_by_its_path(server: ServerThread) -> None:
    """``GET http://host/echo`` (proxy form) is routed as ``/echo``."""
    with RawClient(server.port) as client:
        client.send(b"GET http://x/echo?q=2 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = client.response()
        assert status == 200 and headers["x-query"] == "q=2"


def test_upgrade_requests_are_answered_without_upgrading(server: ServerThread) -> None:
    """A WebSocket upgrade is served as a plain request and the connection then closes."""
    with RawClient(server.port) as client:
        client.send(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        status, headers, _ = client.response()
        assert status == 200 and headers["connection"] == "close"
        assert client.closed()


def test_a_request_after_an_unread_body_is_not_served(server: ServerThread) -> None:
    """An answer sent before the body came in (413, body unread) closes the connection once the
    rest of the body has been read and dropped: a request pipelined after it is not served."""
    with RawClient(server.port) as client:
        client.send(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n" + b"x" * 10)
        status, headers, _ = client.response()
        assert status == 413 and headers["connection"] == "close"
        client.send(b"y" * 40 + GET)
        assert client.closed()
        assert client.received() == b""


@pytest.mark.parametrize("where", [b"value", b"name", b"name-lf"])
def test_a_header_with_a_line_break_or_a_colon_in_its_name_is_never_written(
    server: ServerThread, where: bytes
) -> None:
    """An app's header value with CR LF (or a name with LF or a colon) is refused: the connection
    is dropped with nothing sent, so no header can be injected; the server goes on serving."""
    with RawClient(server.port) as client:
        client.send(b"GET /bad-header?%b HTTP/1.1\r\nHost: x\r\n\r\n" % where)
        assert client.closed()
        assert client.received() == b""
    with RawClient(server.port) as client:
        client.send(GET)
        assert client.response()[0] == 200
