"""The one pub/sub connection: channels share it, it comes back after Redis restarts, listeners hear
when messages may have been missed, and a silent connection is noticed.

A private ``redis-server`` (restarted by the tests) for what Redis does; a scripted server on
loopback for what Redis will not do on demand (go silent).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import hiredis
import pytest

from bastion.outbound.pubsub import Subscriber
from bastion.outbound.resp import RespConnectionError, RespTarget
from support.private_servers import PrivateRedis
from support.serve import free_port


class Heard:
    """A listener that records what it hears and wakes the test on a given message or count."""

    def __init__(self) -> None:
        self.messages: list[str | None] = []
        self._changed = asyncio.Event()

    def __call__(self, message: str | None) -> None:
        self.messages.append(message)
        self._changed.set()

    async def until(self, *expected: str | None, timeout: float = 5.0) -> None:
        """Wait until the messages heard so far are ``expected``."""
        async with asyncio.timeout(timeout):
            while self.messages != list(expected):
                assert len(self.messages) < len(expected), self.messages
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with PrivateRedis(tmp_path) as redis_server:
        yield redis_server


def publish(server: PrivateRedis, channel: str, message: str) -> int:
    client = server.client()
    try:
        return int(client.publish(channel, message))
    finally:
        client.close()


def test_every_channel_shares_one_connection(server: PrivateRedis) -> None:
    """Three channels and four listeners: one connection, each listener hears its channel only."""

    async def main() -> None:
        subscriber = Subscriber(RespTarget.from_url(server.url), name="bastion-test-pubsub")
        first, second, other = Heard(), Heard(), Heard()
        try:
            await subscriber.subscribe("bastion:a", first)
            await subscriber.subscribe("bastion:a", second)
            await subscriber.subscribe("bastion:b", other)
            await subscriber.subscribe("bastion:c", Heard())
            assert subscriber.channels == ["bastion:a", "bastion:b", "bastion:c"]
            named = [(c["name"], c["sub"]) for c in server.clients() if c["name"]]
            assert named == [("bastion-test-pubsub", "3")]
            assert await asyncio.to_thread(publish, server, "bastion:a", "one") == 1
            assert await asyncio.to_thread(publish, server, "bastion:b", "two") == 1
            await first.until("one")
            await second.until("one")
            await other.until("two")
        finally:
            await subscriber.close()

    asyncio.run(main())


def test_a_failing_listener_does_not_silence_the_others(server: PrivateRedis) -> None:
    async def main() -> None:
        subscriber = Subscriber(RespTarget.from_url(server.url))

        def broken(message: str | None) -> None:
            raise RuntimeError("listener bug")

        heard = Heard()
        try:
            await subscriber.subscribe("bastion:a", broken)
            await subscriber.subscribe("bastion:a", heard)
            await asyncio.to_thread(publish, server, "bastion:a", "one")
            await asyncio.to_thread(publish, server, "bastion:a", "two")
            await heard.until("one", "two")
        finally:
            await subscriber.close()

    asyncio.run(main())


def test_the_last_listener_leaving_leaves_the_channel(server: PrivateRedis) -> None:
    async def main() -> None:
        subscriber = Subscriber(RespTarget.from_url(server.url))
        heard, staying = Heard(), Heard()
        try:
            await subscriber.subscribe("bastion:a", heard)
            await subscriber.subscribe("bastion:b", staying)
            subscriber.unsubscribe("bastion:a", heard)
            assert subscriber.channels == ["bastion:b"]
            # Redis answers in order: once b's message arrives, a's unsubscribe was done before it.
            assert await asyncio.to_thread(publish, server, "bastion:b", "still") == 1
            await staying.until("still")
            assert await asyncio.to_thread(publish, server, "bastion:a", "gone") == 0
        finally:
            await subscriber.close()
        assert heard.messages == []

    asyncio.run(main())


def test_a_restarted_redis_is_subscribed_again_and_listeners_hear_they_may_have_missed_messages(
    server: PrivateRedis,
) -> None:
    """Restart: None when the connection is lost, None again once subscribed anew, then messages."""

    async def main() -> None:
        subscriber = Subscriber(RespTarget.from_url(server.url), name="bastion-test-pubsub")
        heard = Heard()
        try:
            await subscriber.subscribe("bastion:a", heard)
            await asyncio.to_thread(publish, server, "bastion:a", "before")
            await heard.until("before")
            await asyncio.to_thread(server.restart)
            await heard.until("before", None, None, timeout=10)
            assert subscriber.channels == ["bastion:a"]
            await asyncio.to_thread(publish, server, "bastion:a", "after")
            await heard.until("before", None, None, "after")
            assert subscriber.connections == 2
            assert [c["name"] for c in server.clients() if c["name"]] == ["bastion-test-pubsub"]
        finally:
            await subscriber.close()

    asyncio.run(main())


def test_an_unreachable_redis_is_reported_and_the_listener_is_not_kept() -> None:
    async def main() -> None:
        subscriber = Subscriber(RespTarget.from_url(f"redis://127.0.0.1:{free_port()}/0"))
        heard = Heard()
        try:
            with pytest.raises(RespConnectionError, match="did not confirm"):
                await subscriber.subscribe("bastion:a", heard, timeout=0.3)
            assert subscriber.channels == []
        finally:
            await subscriber.close()
        assert heard.messages == []

    asyncio.run(main())


class _SilentOnce:
    """Confirms subscriptions; on its first connection it never answers PING (a silent network cut)."""

    def __init__(self) -> None:
        self.connections = 0
        self.pings = 0
        self.pinged = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        silent = self.connections == 1
        parser = hiredis.Reader(encoding="utf-8")
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    if command[0] == "SUBSCRIBE":
                        for count, channel in enumerate(command[1:], start=1):
                            writer.write(
                                b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:%d\r\n"
                                % (len(channel), channel.encode(), count)
                            )
                    elif command[0] == "PING":
                        self.pings += 1
                        self.pinged.set()
                        if not silent:
                            writer.write(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        writer.close()


def test_a_silent_connection_is_probed_and_replaced() -> None:
    """No answer to PING within the timeout: the connection counts as lost and is replaced."""

    async def main() -> None:
        fake = _SilentOnce()
        server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        subscriber = Subscriber(
            RespTarget.from_url(f"redis://127.0.0.1:{port}"), ping_interval=0.05, ping_timeout=0.05
        )
        heard = Heard()
        try:
            await subscriber.subscribe("bastion:a", heard)
            await heard.until(None, None)
            assert fake.connections == 2 and subscriber.connections == 2
            assert subscriber.channels == ["bastion:a"]
            pings = fake.pings
            async with asyncio.timeout(5):
                while fake.pings < pings + 2:  # probed again and answered: the connection stays
                    fake.pinged.clear()
                    await fake.pinged.wait()
            assert fake.connections == 2
        finally:
            await subscriber.close()
            server.close()

    asyncio.run(main())
