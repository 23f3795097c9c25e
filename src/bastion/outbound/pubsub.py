"""The process's one pub/sub connection to Redis, shared by every channel the process listens to.

A connection in subscribe mode can do nothing else, so it is separate from the command connection
of :class:`~bastion.outbound.resp.RespClient`; one is enough for every subscriber::

    subscriber = Subscriber(RespTarget.from_url(url), name="bastion-1234")
    await subscriber.subscribe("bastion:revoked", listener)   # returns once Redis confirmed it

Redis keeps no backlog: a message published while the connection is down is lost. So listeners
hear ``None`` ("messages may have been missed: drop what you cached") when the connection is
lost, and once more when the channel is subscribed again on a new connection (anything published
in between is lost too). The subscriber reconnects by itself, backing off up to two seconds
between attempts, and subscribes to every channel again. A connection that goes quiet is probed
with ``PING``; no answer within ``ping_timeout`` counts as lost (a silent network cut, not only a
restart, is noticed).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

from bastion.outbound.resp import RespConnection, RespConnectionError, RespTarget, encode, open_connection
from bastion.tasks import spawn_service

__all__ = ["Listener", "Subscriber"]

_log = logging.getLogger("bastion.redis")

#: Called with each message's text, or ``None`` when messages may have been missed.
Listener = Callable[[str | None], None]

_FIRST_BACKOFF = 0.05


class Subscriber:
    """One pub/sub connection; channels and their listeners survive reconnects."""

    def __init__(
        self,
        target: RespTarget,
        *,
        name: str | None = None,
        connect_timeout: float = 5.0,
        ping_interval: float = 15.0,
        ping_timeout: float = 5.0,
        max_backoff: float = 2.0,
    ) -> None:
        self._target = target
        self._name = name
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._max_backoff = max_backoff
        self._channels: dict[str, list[Listener]] = {}
        self._confirmed: set[str] = set()
        #: Channels whose subscription was lost: their listeners hear ``None`` again once it is back.
        self._missed: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._connection: RespConnection | None = None
        self._lost: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._failing = False
        self._closed = False
        #: Connections opened so far (tests read it: a reconnect adds one).
        self.connections = 0

    async def subscribe(self, channel: str, listener: Listener, *, timeout: float = 5.0) -> None:
        """Call ``listener`` for each message on ``channel`` from when this returns.

        Returns once Redis confirmed the subscription; raises :class:`RespConnectionError` when it
        did not within ``timeout`` seconds (the listener is then not kept).
        """
        if self._closed:
            raise RespConnectionError("the Redis subscriber is closed")
        listeners = self._channels.setdefault(channel, [])
        listeners.append(listener)
        if channel in self._confirmed:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        connection = self._connection
        if connection is not None and len(listeners) == 1 and not connection.closed:
            connection.post(encode(("SUBSCRIBE", channel)))
        self._start()
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            self.unsubscribe(channel, listener)
            raise RespConnectionError(
                f"Redis did not confirm the subscription to {channel} within {timeout:g} s"
            ) from None
        finally:
            waiting = self._waiters.get(channel, [])
            if waiter in waiting:
                waiting.remove(waiter)

    def unsubscribe(self, channel: str, listener: Listener) -> None:
        """Stop calling ``listener``; the channel is left when its last listener goes."""
        listeners = self._channels.get(channel, [])
        if listener in listeners:
            listeners.remove(listener)
        if listeners or channel not in self._channels:
            return
        del self._channels[channel]
        self._confirmed.discard(channel)
        self._missed.discard(channel)
        connection = self._connection
        if connection is not None and not connection.closed:
            connection.post(encode(("UNSUBSCRIBE", channel)))

    @property
    def channels(self) -> list[str]:
        """The channels Redis has confirmed on the current connection."""
        return sorted(self._confirmed)

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._drop_connection(RespConnectionError("the Redis subscriber is closed"))

    # ------------------------------------------------------------------ the connection's life

    def _start(self) -> None:
        if self._task is None:
            self._task = spawn_service(self._run(), name="bastion-redis-pubsub")

    async def _run(self) -> None:
        backoff = _FIRST_BACKOFF
        while True:
            lost = self._lost = asyncio.Event()
            try:
                connection = await open_connection(
                    self._target,
                    name=self._name,
                    select=False,  # channels are not per database
                    connect_timeout=self._connect_timeout,
                    on_push=self._on_push,
                    on_lost=functools.partial(self._on_lost, lost=lost),
                )
            except RespConnectionError as err:
                self._report(err)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = _FIRST_BACKOFF
            self.connections += 1
            if not connection.closed:
                self._connection = connection
                if self._channels:
                    connection.post(encode(("SUBSCRIBE", *self._channels)))
                self._watch(connection)
            await lost.wait()

    def _on_lost(self, error: RespConnectionError, *, lost: asyncio.Event) -> None:
        self._connection = None
        self._stop_timer()
        lost.set()
        if self._closed:
            return
        self._report(error)
        dropped = self._confirmed & set(self._channels)
        self._missed |= dropped
        self._confirmed = set()
        for channel in sorted(dropped):
            self._notify(channel, None)

    def _drop_connection(self, error: RespConnectionError) -> None:
        self._stop_timer()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.abort(error)

    def _report(self, error: RespConnectionError) -> None:
        if not self._failing:
            self._failing = True
            _log.warning("Redis pub/sub connection lost (%s); reconnecting", error)

    # ------------------------------------------------------------------ what Redis pushes

    def _on_push(self, reply: Any) -> None:
        if not isinstance(reply, list) or not reply:
            # An error reply (a refused SUBSCRIBE, an ACL change): start over on a new connection.
            self._drop_connection(RespConnectionError(f"Redis refused the subscription: {reply}"))
            return
        kind = reply[0]
        if kind == "message" and len(reply) == 3:
            self._notify(str(reply[1]), str(reply[2]))
        elif kind == "subscribe" and len(reply) == 3:
            self._confirm(str(reply[1]))

    def _confirm(self, channel: str) -> None:
        if channel not in self._channels:
            return  # left before Redis confirmed it
        self._confirmed.add(channel)
        if self._failing:
            self._failing = False
            _log.info("Redis pub/sub connection restored")
        if channel in self._missed:
            self._missed.discard(channel)
            self._notify(channel, None)
        for waiter in self._waiters.pop(channel, []):
            if not waiter.done():
                waiter.set_result(None)

    def _notify(self, channel: str, message: str | None) -> None:
        for listener in list(self._channels.get(channel, ())):
            try:
                listener(message)
            except Exception:  # one broken listener must not silence the others or the connection
                _log.exception("a listener of the Redis channel %s failed", channel)

    # ------------------------------------------------------------------ liveness

    def _watch(self, connection: RespConnection) -> None:
        self._timer = asyncio.get_running_loop().call_later(
            self._ping_interval, self._probe, connection, connection.received
        )

    def _probe(self, connection: RespConnection, seen: int) -> None:
        if connection.closed:
            return
        if connection.received != seen:  # it spoke in the meantime: alive
            self._watch(connection)
            return
        connection.post(encode(("PING",)))
        self._timer = asyncio.get_running_loop().call_later(
            self._ping_timeout, self._check_pong, connection, connection.received
        )

    def _check_pong(self, connection: RespConnection, seen: int) -> None:
        if connection.closed:
            return
        if connection.received == seen:
            connection.abort(
                RespConnectionError(f"Redis did not answer PING within {self._ping_timeout:g} s")
            )
            return
        self._watch(connection)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
