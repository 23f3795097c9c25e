"""The process's Redis client: pipelining, errors, lost connections, timeouts, the handshake.

Real Redis for what Redis does; a scripted server on loopback for what Redis will not do on demand
(hold a reply, refuse a password, go silent).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import hiredis
import pytest

from bastion.outbound.resp import RespClient, RespConnectionError, RespError, RespTarget
from support.backends import REDIS, require


@pytest.fixture
def _needs_redis() -> None:
    require(6379, "Redis")


def _key() -> str:
    return f"bastion:test-resp:{secrets.token_hex(6)}"


@pytest.mark.redis
@pytest.mark.usefixtures("_needs_redis")
def test_concurrent_commands_get_their_own_replies() -> None:
    """Hundreds of commands from concurrent tasks share one connection; each gets its own reply."""

    async def main() -> None:
        client = RespClient(RespTarget.from_url(REDIS))
        key = _key()
        try:
            replies = await asyncio.gather(*(client.execute("ECHO", f"m{i}") for i in range(300)))
            assert replies == [f"m{i}" for i in range(300)]
            counts = await asyncio.gather(*(client.execute("INCR", key) for _ in range(100)))
            assert sorted(counts) == list(range(1, 101))
            assert await client.execute("SET", key, 2.5) == "OK"
            assert await client.execute("GET", key) == "2.5"
            assert await client.execute("EVAL", "return {1, ARGV[1], {ARGV[2]}}", 0, "a", b"b") == [
                1,
                "a",
                ["b"],
            ]
        finally:
            await client.execute("DEL", key)
            await client.close()

    asyncio.run(main())


@pytest.mark.redis
@pytest.mark.usefixtures("_needs_redis")
def test_error_reply_raises_and_the_connection_stays_usable() -> None:
    async def main() -> None:
        client = RespClient(RespTarget.from_url(REDIS))
        try:
            with pytest.raises(RespError, match="NOSCRIPT"):
                await client.execute("EVALSHA", "0" * 40, 0)
            assert await client.execute("PING") == "PONG"
        finally:
            await client.close()

    asyncio.run(main())


@pytest.mark.redis
@pytest.mark.usefixtures("_needs_redis")
def test_a_killed_connection_fails_its_commands_and_the_next_one_reconnects() -> None:
    async def main() -> None:
        client = RespClient(RespTarget.from_url(REDIS))
        admin = RespClient(RespTarget.from_url(REDIS))
        name = f"resp-{secrets.token_hex(4)}"

        async def our_line() -> str:
            listing = await admin.execute("CLIENT", "LIST")
            return next(line for line in listing.splitlines() if f" name={name} " in line)

        try:
            assert await client.execute("CLIENT", "SETNAME", name) == "OK"
            blocked = asyncio.ensure_future(client.execute("BLPOP", _key(), 0))
            while " cmd=blpop " not in await our_line():  # until Redis holds the BLPOP
                pass
            client_id = next(f for f in (await our_line()).split() if f.startswith("id=")).split("=")[1]
            await admin.execute("CLIENT", "KILL", "ID", client_id)
            with pytest.raises(RespConnectionError, match="lost"):
                await blocked
            assert await client.execute("PING") == "PONG"
        finally:
            await admin.close()
            await client.close()

    asyncio.run(main())


class _ScriptedServer:
    """A loopback server that reads RESP commands and answers with ``answer(command)`` (or not)."""

    def __init__(self, answer: Callable[[list[str]], bytes | None]) -> None:
        self.answer = answer
        self.commands: list[list[str]] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> _ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader(encoding="utf-8")
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    self.commands.append(command)
                    reply = self.answer(command)
                    if reply is not None:
                        writer.write(reply)
        writer.close()


@contextlib.asynccontextmanager
async def _server(answer: Callable[[list[str]], bytes | None]) -> AsyncIterator[_ScriptedServer]:
    async with _ScriptedServer(answer) as server:
        yield server


def test_handshake_logs_in_and_selects_the_database() -> None:
    async def main() -> None:
        async with _server(lambda command: b"+OK\r\n" if command[0] != "PING" else b"+PONG\r\n") as server:
            client = RespClient(RespTarget.from_url(f"redis://svc:p%40ss@127.0.0.1:{server.port}/3"))
            try:
                assert await client.execute("PING") == "PONG"
            finally:
                await client.close()
            assert server.commands == [["AUTH", "svc", "p@ss"], ["SELECT", "3"], ["PING"]]

    asyncio.run(main())


def test_unix_socket(tmp_path: Path) -> None:
    async def main() -> None:
        seen: list[list[str]] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            parser = hiredis.Reader(encoding="utf-8")
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    seen.append(command)
                    writer.write(b"+OK\r\n")
            writer.close()

        path = str(tmp_path / "redis.sock")
        server = await asyncio.start_unix_server(serve, path)
        client = RespClient(RespTarget.from_url(f"unix://{path}?db=2"))
        try:
            assert await client.execute("SET", "k", "v") == "OK"
        finally:
            await client.close()
            server.close()
        assert seen == [["SELECT", "2"], ["SET", "k", "v"]]

    asyncio.run(main())


def test_a_refused_password_is_reported_without_the_password() -> None:
    async def main() -> None:
        def refuse(command: list[str]) -> bytes:
            return b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"

        async with _server(refuse) as server:
            client = RespClient(RespTarget.from_url(f"redis://:hunter2@127.0.0.1:{server.port}/0"))
            with pytest.raises(RespConnectionError) as caught:
                await client.execute("PING")
            await client.close()
        assert "WRONGPASS" in str(caught.value)
        assert "hunter2" not in str(caught.value) and "hunter2" not in repr(
            RespTarget.from_url("redis://:hunter2@h:1/0")
        )

    asyncio.run(main())


def test_a_silent_server_times_out_and_the_client_reconnects() -> None:
    """No reply within the command timeout closes the connection; the next command opens another."""

    async def main() -> None:
        silent = True

        def answer(command: list[str]) -> bytes | None:
            return None if silent else b"+PONG\r\n"

        async with _server(answer) as server:
            client = RespClient(RespTarget.from_url(f"redis://127.0.0.1:{server.port}"), command_timeout=0.2)
            try:
                with pytest.raises(RespConnectionError, match="did not answer"):
                    await client.execute("PING")
                silent = False
                assert await client.execute("PING") == "PONG"
            finally:
                await client.close()

    asyncio.run(main())


def test_a_cancelled_caller_does_not_shift_the_replies() -> None:
    """A caller that gives up leaves its reply to be skipped, not handed to the next caller."""

    async def main() -> None:
        first_arrived = asyncio.Event()
        held: list[bytes] = []

        def answer(command: list[str]) -> bytes | None:
            reply = f"${len(command[1])}\r\n{command[1]}\r\n".encode()
            if command[1] == "first":  # hold this reply until the next command
                held.append(reply)
                first_arrived.set()
                return None
            reply, held[:] = b"".join(held) + reply, []
            return reply

        async with _server(answer) as server:
            client = RespClient(RespTarget.from_url(f"redis://127.0.0.1:{server.port}"))
            try:
                assert await client.execute("ECHO", "warm") == "warm"  # connected
                first = asyncio.ensure_future(client.execute("ECHO", "first"))
                await first_arrived.wait()
                first.cancel()
                assert await client.execute("ECHO", "second") == "second"
                assert first.cancelled()
                assert [c[1] for c in server.commands] == ["warm", "first", "second"]
            finally:
                await client.close()

    asyncio.run(main())


def test_urls() -> None:
    target = RespTarget.from_url("rediss://user:pw@cache.internal:6380/2")
    assert (target.host, target.port, target.db, target.username, target.password, target.tls) == (
        "cache.internal",
        6380,
        2,
        "user",
        "pw",
        True,
    )
    assert RespTarget.from_url("redis://localhost").port == 6379
    local = RespTarget.from_url("unix:///run/redis/redis.sock?db=4&password=pw")
    assert (local.socket, local.db, local.password) == ("/run/redis/redis.sock", 4, "pw")
    assert "pw" not in repr(local)
    with pytest.raises(ValueError, match="redis://"):
        RespTarget.from_url("http://localhost")
    with pytest.raises(ValueError, match="database number"):
        RespTarget.from_url("redis://localhost/cache")
