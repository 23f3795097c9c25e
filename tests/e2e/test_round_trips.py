"""The round trips a keyed request waits for before its answer, on PostgreSQL + Redis (and SQLite).

A request with a virtual key (budget, rpm/tpm and parallel limits: the bench's keyed target) on
the scaled backend may send, before its answer, exactly what admission needs: ONE Redis command
(the limits script that counts the request and reserves its budget) and nothing to PostgreSQL (the
key is cached). Everything else comes after the answer is written: the settlement script, the log
line, the metrics and the spend row's batch. Issue 13's regression was the settlement (and the log
line) running before the answer once the answer was computed in a task of its own: same commands,
one more Redis round trip's worth of waiting on the latency path.

The counts come from inside the gateway (it runs in a thread of this process): every command the
shared Redis client writes and every statement and pool checkout of the store's engine is noted
with the task that sent it; a request's path is the task serving it and the child tasks it awaits,
from its first byte to the moment its answer is handed to the socket.
"""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import event

from bastion.accounting.recorder import UsageRecorder
from bastion.api.server import GatewayApp
from bastion.outbound.resp import RespConnection
from bastion.tasks.supervisor import TaskSupervisor
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models
from support.backends import gateway_on

CHAT = "/v1/chat/completions"
#: The bench's keyed target (bench/keyed.py): every limit on, none reachable.
KEY_LIMITS = {
    "max_budget": 1000,
    "rpm_limit": 1_000_000,
    "tpm_limit": 1_000_000_000,
    "max_parallel_requests": 10_000,
    "duration": "1h",
}
CALLS = 20


class Timeline:
    """What the gateway sent to Redis and PostgreSQL, and when its chat requests began and ended."""

    def __init__(self) -> None:
        #: (what, detail, request index or None): "redis" / "pg" / "checkout", and the markers
        #: "request" and "answer"; the index says which request's tasks sent it (None: others).
        self.events: list[tuple[str, str, int | None]] = []
        #: The task serving each request, and every task it started (awaited or left to run on).
        self._owners: dict[asyncio.Task[Any], int] = {}
        self._requests = 0

    def _owner(self) -> int | None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return None
        return None if task is None else self._owners.get(task)

    def note(self, what: str, detail: str) -> None:
        self.events.append((what, detail, self._owner()))

    def wrap_redis(self, send: Callable[[RespConnection, bytes], Any]) -> Callable[..., Any]:
        def counted(connection: RespConnection, payload: bytes) -> Any:
            self.note("redis", payload.split(b"\r\n", 3)[2].decode())  # *N, $len, NAME
            return send(connection, payload)

        return counted

    def wrap_tasks(self, start: Callable[..., asyncio.Task[Any]]) -> Callable[..., asyncio.Task[Any]]:
        def counted(supervisor: TaskSupervisor, *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
            task = start(supervisor, *args, **kwargs)
            owner = self._owner()
            if owner is not None:  # started by a request (or by a task it started): its work
                self._owners[task] = owner
            return task

        return counted

    def wrap_recorder(self, record: Callable[..., None], account: Callable[..., None]) -> tuple[Any, Any]:
        """The request's log line and metrics (:meth:`UsageRecorder._account`, a callback): noted
        under the request whose task recorded it."""
        owners: dict[int, int | None] = {}

        def recorded(recorder: UsageRecorder, rec: Any) -> None:
            owners[id(rec)] = self._owner()
            record(recorder, rec)

        def accounted(recorder: UsageRecorder, rec: Any) -> None:
            self.events.append(("account", "log line and metrics", owners.pop(id(rec), None)))
            account(recorder, rec)

        return recorded, accounted

    def wrap_app(self, call: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(app: GatewayApp, scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("path") != CHAT:
                return await call(app, scope, receive, send)  # type: ignore[no-any-return]
            task = asyncio.current_task()
            assert task is not None
            index = self._requests
            self._requests += 1
            self._owners[task] = index
            self.events.append(("request", "", index))

            async def marked(message: dict[str, Any]) -> None:
                await send(message)  # the answer's last bytes are written to the socket in here
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    self.events.append(("answer", "", index))

            try:
                return await call(app, scope, receive, marked)  # type: ignore[no-any-return]
            finally:
                del self._owners[task]  # the connection's next request runs in this task too

        return counted

    def per_request(self, what: str, *, since: int = 0) -> list[tuple[list[str], list[str]]]:
        """Per request from request ``since`` on: what (redis, pg, checkout) its tasks sent before
        its answer, and after it."""
        before: dict[int, list[str]] = {}
        after: dict[int, list[str]] = {}
        answered: set[int] = set()
        for kind, detail, owner in self.events:
            if owner is None:
                continue
            if kind == "request":
                before[owner], after[owner] = [], []
            elif kind == "answer":
                answered.add(owner)
            elif kind == what:
                (after if owner in answered else before)[owner].append(detail)
        return [(before[i], after[i]) for i in sorted(before) if i >= since]


@pytest.fixture(params=["scaled", "embedded"])
def counted(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    start_gateway: Callable[..., RunningGateway],
    upstream: MockUpstream,
) -> Iterator[tuple[RunningGateway, Timeline]]:
    """A keyed gateway on PostgreSQL + Redis (``scaled``) or SQLite with in-process limits
    (``embedded``), every command to Redis and the database noted on a :class:`Timeline`."""
    timeline = Timeline()
    monkeypatch.setattr(RespConnection, "send", timeline.wrap_redis(RespConnection.send))
    monkeypatch.setattr(GatewayApp, "__call__", timeline.wrap_app(GatewayApp.__call__))
    monkeypatch.setattr(TaskSupervisor, "_start", timeline.wrap_tasks(TaskSupervisor._start))
    recorded, accounted = timeline.wrap_recorder(UsageRecorder.record, UsageRecorder._account)
    monkeypatch.setattr(UsageRecorder, "record", recorded)
    monkeypatch.setattr(UsageRecorder, "_account", accounted)
    config = {
        "model_list": standard_models(upstream.url),
        "router_settings": {"num_retries": 0},
        # The key is read once and served from the cache for the whole test (default: 5 s, after
        # which one request reads it again: amortised, and not what this test counts).
        "general_settings": {"user_api_key_cache_ttl": 600},
    }
    with gateway_on(request.param, config, start_gateway) as gw:
        assert gw.app is not None and gw.app.database is not None
        engine = gw.app.database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", lambda *a: timeline.note("pg", a[2].split()[0]))
        event.listen(engine.pool, "checkout", lambda *a: timeline.note("checkout", ""))
        yield gw, timeline


class Client:
    """One keep-alive connection, as the bench's client keeps."""

    def __init__(self, gw: RunningGateway) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", int(gw.url.rsplit(":", 1)[1]), timeout=30)

    def post(self, path: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        self._conn.request("POST", path, orjson.dumps(body), headers)
        response = self._conn.getresponse()
        return response.status, orjson.loads(response.read())

    def chat(self, key: str, **extra: Any) -> int:
        body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, **extra}
        return self.post(CHAT, body, key)[0]


def _keyed(gw: RunningGateway, client: Client) -> str:
    status, answer = client.post("/key/generate", {**KEY_LIMITS, "key_alias": "rtt"}, MASTER_KEY)
    assert status == 200, answer
    key = str(answer["key"])
    assert client.chat(key) == 200  # reads the key into the cache (and warms every connection)
    return key


def test_a_keyed_request_waits_for_one_redis_command_and_no_database(
    counted: tuple[RunningGateway, Timeline],
) -> None:
    gw, timeline = counted
    scaled = gw.settings.bastion.redis_url is not None
    client = Client(gw)
    key = _keyed(gw, client)
    for _ in range(CALLS):
        assert client.chat(key) == 200
    gw.settle()
    # Request 0 read the key and may have loaded the scripts into Redis (NOSCRIPT, then again).
    # Before the answer, one round trip: the admission script (rate limits, parallel slot and
    # budget reservation in one atomic EVALSHA). After it, the settlement script (the real tokens
    # and cost, the slot given back): one per request at most, since a finish queued while the one
    # before it is still on its way goes out with the next batch (the sender's task, of an earlier
    # request, sends it). The embedded backend keeps its limits in the process.
    script = ["EVALSHA"] if scaled else []
    counts = timeline.per_request("redis", since=1)
    assert [before for before, _ in counts] == [script] * CALLS
    after = [command for _, later in counts for command in later]
    assert set(after) == set(script)
    assert len(after) <= CALLS
    # None to the database: the key comes from the cache, the spend row goes to the batch writer
    # (not even a pool checkout, which on PostgreSQL pings the connection first).
    assert timeline.per_request("pg", since=1) == [([], [])] * CALLS
    assert timeline.per_request("checkout", since=1) == [([], [])] * CALLS
    # The log line and the metrics: after the answer too.
    assert timeline.per_request("account") == [([], ["log line and metrics"])] * (CALLS + 1)


def test_new_end_user_values_read_nothing_while_there_are_no_customers(
    counted: tuple[RunningGateway, Timeline],
) -> None:
    """A key's ``user`` field may name a customer (``/customer/new``) with a plan or a block; while
    there is none, a new value costs no database read (one probe of the table answers for all),
    and a customer created later applies at once."""
    gw, timeline = counted
    client = Client(gw)
    key = _keyed(gw, client)
    assert client.chat(key, user="first-user") == 200  # request 1: the probe finds no customer
    probe = timeline.per_request("pg", since=1)[0][0]
    assert probe.count("SELECT") == 1, probe  # (SQLite's transactions also send a BEGIN)
    for n in range(CALLS):
        assert client.chat(key, user=f"user-{n}") == 200
    assert [before for before, _ in timeline.per_request("pg", since=2)] == [[]] * CALLS
    # A blocked customer: the change is known at once (the probe is answered again).
    status, answer = client.post("/customer/new", {"user_id": "blocked-one", "blocked": True}, MASTER_KEY)
    assert status == 200, answer
    assert client.chat(key, user="blocked-one") == 403
    assert client.chat(key, user="user-0") == 200
