"""Fake Autumn, Stripe and webhook receivers on one loopback port, recording every call.

::

    with FakeBilling(webhook_secret="whsec") as fake:
        fake.fail("autumn", "500", times=2)    # the next two track calls answer 500
        ... point the sinks at fake.url + "/autumn", "/stripe", "/webhook" ...
        fake.calls("autumn")                   # every request received, in order
        fake.applied("autumn")                 # idempotency key -> value, first one wins

Faults, taken in order per sink: ``"500"`` (answer 500, nothing recorded as applied), ``"400"``
(a refusal of the event itself), ``"timeout"`` (apply, then never answer: the client times out),
``"reset"`` (apply, then drop the connection after the body was received: the sender cannot know
it arrived), ``"duplicate"`` (Stripe's refusal of an identifier it already has; applied).
Autumn's ``/v1/check`` answers ``allowed`` from :attr:`FakeBilling.credit`.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from bastion.billing.signature import SIGNATURE_HEADER, verify

__all__ = ["FakeBilling", "SinkCall"]


@dataclass
class SinkCall:
    sink: str
    path: str
    headers: dict[str, str]
    body: bytes
    fields: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    value: float = 0.0
    signature_ok: bool | None = None


class FakeBilling:
    def __init__(self, *, webhook_secret: str = "whsec-test", tls: ssl.SSLContext | None = None) -> None:
        """``tls`` (a server-side context) serves HTTPS on ``localhost`` instead of HTTP on 127.0.0.1."""
        self.webhook_secret = webhook_secret
        self._tls = tls
        #: team_id -> whether Autumn's check allows it (absent: allowed).
        self.credit: dict[str, bool] = {}
        self.checks: list[dict[str, Any]] = []
        #: Status the check endpoint answers with instead of 200 (a broken provider).
        self.check_status = 200
        self._lock = threading.Lock()
        self._calls: list[SinkCall] = []
        self._applied: dict[str, dict[str, float]] = {"autumn": {}, "stripe": {}, "webhook": {}}
        self._faults: dict[str, deque[str]] = {"autumn": deque(), "stripe": deque(), "webhook": deque()}
        self._call_event = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._released: asyncio.Event | None = None
        self._open = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}" if self._tls is not None else f"http://127.0.0.1:{self.port}"

    # -- control -------------------------------------------------------------------------
    def fail(self, sink: str, fault: str, *, times: int = 1) -> None:
        with self._lock:
            self._faults[sink].extend([fault] * times)

    def hold(self) -> None:
        """Answer nothing until :meth:`release` (requests are still received and recorded)."""
        self._in_loop(self._open.clear)

    def release(self) -> None:
        self._in_loop(self._open.set)

    def _in_loop(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the server's loop and return once it ran."""
        assert self._loop is not None
        done = threading.Event()

        def run() -> None:
            action()
            done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(timeout=10)

    def clear_faults(self) -> None:
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    def calls(self, sink: str | None = None) -> list[SinkCall]:
        with self._lock:
            return [c for c in self._calls if sink is None or c.sink == sink]

    def applied(self, sink: str) -> dict[str, float]:
        with self._lock:
            return dict(self._applied[sink])

    def wait_for_calls(self, count: int, timeout: float = 30.0) -> bool:
        """Block until at least ``count`` sink calls arrived in total (not a sleep: a condition)."""
        with self._call_event:
            return self._call_event.wait_for(lambda: len(self._calls) >= count, timeout=timeout)

    # -- server --------------------------------------------------------------------------
    def __enter__(self) -> FakeBilling:
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(timeout=30):
            raise RuntimeError("the fake billing server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is not None and self._released is not None:
            loop.call_soon_threadsafe(self._released.set)
            loop.call_soon_threadsafe(self._open.set)
            asyncio.run_coroutine_threadsafe(self._stop(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self, started: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._start())
        started.set()
        loop.run_forever()
        loop.close()

    async def _start(self) -> None:
        self._released = asyncio.Event()
        self._open.set()
        app = web.Application()
        app.router.add_post("/autumn/v1/track", self._autumn_track)
        app.router.add_post("/autumn/v1/check", self._autumn_check)
        app.router.add_post("/stripe/v1/billing/meter_events", self._stripe)
        app.router.add_post("/webhook", self._webhook)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._tls)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handlers ------------------------------------------------------------------------
    async def _autumn_track(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        data = orjson.loads(body)
        call = SinkCall("autumn", request.path, dict(request.headers), body, data)
        call.key, call.value = data["idempotency_key"], float(data["value"])
        return await self._answer(request, call, {"id": "evt_1", "code": "event_received"})

    async def _autumn_check(self, request: web.Request) -> web.StreamResponse:
        data = orjson.loads(await request.read())
        with self._lock:
            self.checks.append({"headers": dict(request.headers), **data})
            allowed = self.credit.get(data["customer_id"], True)
        if self.check_status != 200:
            return web.json_response({"message": "down", "code": "internal_error"}, status=self.check_status)
        return web.json_response({"allowed": allowed, "customer_id": data["customer_id"]})

    async def _stripe(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        form = dict(parse_qsl(body.decode()))
        call = SinkCall("stripe", request.path, dict(request.headers), body, form)
        call.key, call.value = form["identifier"], float(form["payload[value]"])
        return await self._answer(request, call, {"object": "billing.meter_event", "identifier": call.key})

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        data = orjson.loads(body)
        call = SinkCall("webhook", request.path, dict(request.headers), body, data)
        call.key, call.value = data["idempotency_key"], float(data["amount_usd"])
        header = request.headers.get(SIGNATURE_HEADER, "")
        call.signature_ok = verify(self.webhook_secret, header, body, now=time.time())
        return await self._answer(request, call, {"ok": True})

    async def _answer(self, request: web.Request, call: SinkCall, ok: dict[str, Any]) -> web.StreamResponse:
        with self._lock:
            fault = self._faults[call.sink].popleft() if self._faults[call.sink] else None
            self._calls.append(call)
            if fault not in ("500", "400"):
                self._applied[call.sink].setdefault(call.key, call.value)
            self._call_event.notify_all()
        await self._open.wait()
        if fault == "500":
            return web.json_response({"message": "internal error", "code": "internal_error"}, status=500)
        if fault == "400":
            return web.json_response({"message": "bad event", "code": "invalid_request"}, status=400)
        if fault == "duplicate":
            message = f"An event with identifier {call.key} already exists."
            error = {"type": "invalid_request_error", "code": "resource_already_exists", "message": message}
            return web.json_response({"error": error}, status=400)
        if fault == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if fault == "timeout":
            assert self._released is not None
            await self._released.wait()
        return web.json_response(ok)
