"""The server around the requests: lifespan, graceful shutdown, disconnects and slow readers."""

from __future__ import annotations

import socket
import threading

import pytest

from support.http_server import RawClient, ServerThread


def test_lifespan_runs_start_up_before_serving_and_shutdown_after() -> None:
    """The app hears ``lifespan.startup`` before the first connection and ``lifespan.shutdown``
    after the last; the server exits 0."""
    server = ServerThread().start()
    assert server.seen.lifespan == ["lifespan.startup"]
    server.stop()
    assert server.seen.lifespan == ["lifespan.startup", "lifespan.shutdown"]
    assert server.exit_code == 0


def test_a_failed_start_up_means_no_serving_and_exit_code_3() -> None:
    """When the app's start-up fails the server never accepts a connection and returns 3."""
    server = ServerThread()
    server.seen.fail_startup = True
    server.start()
    server.stop()
    assert server.exit_code == 3
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5)


def test_client_leaving_during_a_non_streamed_call_is_an_http_disconnect() -> None:
    """A client that closes while the app is still working (the upstream call of a non-streamed
    request) is reported to the app as ``http.disconnect`` at once, so it can cancel that work."""
    with ServerThread() as server:
        client = RawClient(server.port)
        client.send(b"POST /wait-disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert server.seen.started.wait(10)
        client.close()
        assert server.seen.disconnected.wait(10)


def test_a_client_that_reads_nothing_holds_back_the_stream_and_is_dropped() -> None:
    """A stream to a client that reads nothing is not buffered whole: ``send`` waits while the
    socket is full, and after ``send_timeout`` the client is disconnected, far short of the 128 MiB
    the app would have sent."""
    with ServerThread(send_timeout_seconds=0.3) as server, RawClient(server.port) as client:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        client.send(b"GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n")
        assert server.seen.stream_ended.wait(30)
        assert server.seen.bytes_sent < 32 * 1024 * 1024


def test_shutdown_lets_a_stream_in_progress_finish_and_refuses_new_connections() -> None:
    """On stop, a stream in progress runs to its end (``connection: close`` after it), idle
    connections are closed, no new connection is accepted, and the server exits 0."""
    server = ServerThread(shutdown_timeout_seconds=30).start()
    streaming = RawClient(server.port)
    idle = RawClient(server.port)
    idle.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.response()[0] == 200
    streaming.send(b"GET /slow-stream HTTP/1.1\r\nHost: x\r\n\r\n")
    assert streaming.head()[0] == 200
    assert server.seen.started.wait(10)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    assert idle.closed()  # the idle connection goes first
    with pytest.raises(OSError), RawClient(server.port) as late:
        late.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        late.response()
    server.call_soon(lambda: server.seen.release.set_result(None))  # type: ignore[attr-defined]
    assert streaming.closed()
    assert streaming.received().endswith(b"data: last\n\n\r\n0\r\n\r\n")
    stopper.join(30)
    assert server.seen.stream_ended.is_set() and server.exit_code == 0


def test_shutdown_deadline_disconnects_what_is_left() -> None:
    """A stream still running at the shutdown deadline is disconnected: the app sees the client
    leave, and the server still exits 0 after the lifespan shutdown."""
    server = ServerThread(shutdown_timeout_seconds=0.2).start()
    with RawClient(server.port) as client:
        client.send(b"POST /wait-disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert server.seen.started.wait(10)
        server.stop()
        assert client.closed()
    assert server.seen.disconnected.is_set()
    assert server.exit_code == 0 and server.seen.lifespan[-1] == "lifespan.shutdown"
