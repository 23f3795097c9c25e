"""Slow and idle clients are cut off, the connection cap turns new connections away, and normal
clients are served all the while (issue 12, item 6). Timeouts are tiny here; every wait is for the
server's close, never a sleep."""

from __future__ import annotations

import socket

from support.http_server import RawClient, ServerThread, wait_all_closed

GET = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
HEADERS = b"GET /echo HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\nX-Padding: " + b"a" * 4000 + b"\r\n\r\n"


def served(port: int) -> bool:
    """A normal client's request is answered 200."""
    with RawClient(port) as client:
        client.send(GET)
        return client.response()[0] == 200


def test_headers_sent_a_byte_at_a_time_are_cut_off_with_408() -> None:
    """A client dribbling its headers is closed at the header timeout, with a 408, although it
    never stops sending; a normal client is served meanwhile."""
    with ServerThread(header_timeout_seconds=0.3) as server, RawClient(server.port) as slow:
        slow.send(b"G")
        assert served(server.port)
        assert slow.closed_while_dribbling(HEADERS[1:], pace=0.01)
        assert slow.received().startswith(b"HTTP/1.1 408 ")


def test_a_connection_that_sends_nothing_is_closed() -> None:
    """A connection that never sends a byte is closed at the header timeout (no answer to give)."""
    with ServerThread(header_timeout_seconds=0.2) as server, RawClient(server.port) as silent:
        assert silent.closed()
        assert silent.received() == b""


def test_a_body_sent_a_byte_at_a_time_is_cut_off_with_408() -> None:
    """A body dribbled far below the minimum rate is closed at the body timeout with a 408, and the
    app, waiting for the body, sees the client leave; normal clients are served meanwhile."""
    with ServerThread(body_timeout_seconds=0.3, body_min_rate_kib=1) as server:
        with RawClient(server.port) as slow:
            slow.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            assert served(server.port)
            assert slow.closed_while_dribbling(b"x" * 100000, pace=0.01)
            assert slow.received().startswith(b"HTTP/1.1 408 ")
        assert server.seen.disconnected.wait(10)


def test_a_large_body_at_a_fair_rate_is_not_cut_off() -> None:
    """The body allowance grows with what arrives: 2 MiB sent at once is well within 0.2 s plus one
    second per 64 KiB received."""
    with ServerThread(body_timeout_seconds=0.2) as server, RawClient(server.port) as client:
        body = b"y" * (2 * 1024 * 1024)
        client.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        status, _, answer = client.response()
        assert status == 200 and answer == body


def test_idle_keep_alive_connections_are_closed() -> None:
    """After its answer, a keep-alive connection that sends nothing more is closed quietly."""
    with ServerThread(keepalive_timeout_seconds=0.2) as server, RawClient(server.port) as client:
        client.send(GET)
        assert client.response()[0] == 200
        assert client.closed()
        assert client.received() == b""


def test_connections_over_the_cap_get_503_while_open_ones_keep_working() -> None:
    """With ``max_connections: 3``, a fourth connection gets a 503 and is closed at once; the three
    open connections go on being served, and once one closes a new one is accepted."""
    with ServerThread(max_connections=3) as server:
        clients = [RawClient(server.port) for _ in range(3)]
        try:
            for client in clients:
                client.send(GET)
                assert client.response()[0] == 200
            with RawClient(server.port) as extra:
                assert extra.closed()
                assert extra.received().startswith(b"HTTP/1.1 503 ")
            for client in clients:
                client.send(GET)
                assert client.response()[0] == 200
            clients.pop().close()
            while True:  # the close reaches the server at some point: then a new client is served
                with RawClient(server.port) as again:
                    again.send(GET)
                    if again.response()[0] == 200:
                        break
        finally:
            for client in clients:
                client.close()
        assert server.server.state is not None and server.server.state.refused >= 1


def test_hundreds_of_slow_clients_are_all_cut_off_and_a_normal_client_is_served() -> None:
    """400 connections each holding half a request header: a normal client is still served, and
    every slow connection is closed by the header timeout (issue 12: none were, before)."""
    with ServerThread(header_timeout_seconds=0.5, max_connections=1000) as server:
        slow = []
        try:
            for _ in range(400):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.append(sock)
            assert served(server.port)
            wait_all_closed(slow)
        finally:
            for sock in slow:
                sock.close()
