"""No spend record is lost: not when the gateway is stopped mid-load, not when the database goes away.

Both tests run real load (streaming and not) against a gateway on the local PostgreSQL, keep the
request id of every request that got a complete 200 answer, and then look in ``spend_logs``: each
of those requests has exactly one row, and the spend journal is empty (everything reached the
database).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import yaml

from bastion.testing.gateway import RunningGateway
from support import MASTER_KEY, deployment
from support.backends import PG, drop_schema, require
from support.serve import ServeProcess
from support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

SEGMENTS = "spend-journal/*/*.jsonl"  # the journal's segments, a directory per gateway process
#: The mock's answer: one completion token per word, streamed one word at a time.
ANSWER = "one two three four five six seven eight nine ten"
ANSWER_TOKENS = len(ANSWER.split())
CHAT = "/v1/chat/completions"
AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def _mock(stream_delay: float) -> list[dict[str, Any]]:
    return [deployment("mock", "mock/echo", None, mock_response=ANSWER, mock_stream_delay=stream_delay)]


def _body(stream: bool) -> dict[str, Any]:
    return {"model": "mock", "messages": [{"role": "user", "content": "hi"}], "stream": stream}


def _complete(stream: bool, payload: bytes) -> bool:
    """Whether ``payload`` is a whole answer: a finished stream, or a full completion."""
    if stream:
        return payload.rstrip().endswith(b"data: [DONE]")
    return bool(orjson.loads(payload)["choices"][0]["message"]["content"])


async def _spend_rows(schema: str) -> list[Any]:
    conn = await asyncpg.connect(PG)
    try:
        rows: list[Any] = await conn.fetch(
            f'SELECT request_id, completion_tokens, status FROM "{schema}".spend_logs'
        )
    finally:
        await conn.close()
    return rows


def _assert_every_request_logged_once(schema: str, completed: set[str]) -> list[Any]:
    rows = asyncio.run(_spend_rows(schema))
    ids = [row["request_id"] for row in rows]
    assert len(ids) == len(set(ids)), "a request was logged twice"
    assert len(rows) >= len(completed)
    missing = completed - set(ids)
    assert not missing, f"{len(missing)} of {len(completed)} answered requests have no spend row"
    for row in rows:
        if row["request_id"] in completed:  # billed in full: a complete answer, every token
            assert (row["status"], row["completion_tokens"]) == ("success", ANSWER_TOKENS)
    return rows


@pytest.fixture
def schema() -> Iterator[str]:
    require(5432, "PostgreSQL")
    name = "bt_spend_" + secrets.token_hex(5)
    yield name
    asyncio.run(drop_schema(name))


# ---------------------------------------------------------------------------- SIGTERM mid-load


@dataclass
class _TermLoad:
    """What the clients saw while the server was stopped under them."""

    server: ServeProcess
    sigterm_after: int
    completed: set[str] = field(default_factory=set)
    streams_open: set[str] = field(default_factory=set)
    in_flight_at_sigterm: set[str] = field(default_factory=set)
    broken: list[str] = field(default_factory=list)
    terminated: bool = False

    def maybe_terminate(self) -> None:
        """Send SIGTERM once, from inside an open stream, after enough answers."""
        if not self.terminated and len(self.completed) >= self.sigterm_after:
            self.terminated = True
            self.in_flight_at_sigterm = set(self.streams_open)
            self.server.terminate()


async def _term_worker(session: aiohttp.ClientSession, load: _TermLoad, n: int) -> None:
    while True:
        stream = n % 2 == 0
        n += 1
        rid = None
        try:
            async with session.post(load.server.url + CHAT, json=_body(stream), headers=AUTH) as resp:
                assert resp.status == 200, await resp.text()
                rid = resp.headers["x-request-id"]
                if stream:
                    load.streams_open.add(rid)
                    first = await resp.content.readany()  # the stream is under way: in flight
                    load.maybe_terminate()
                    payload = first + await resp.read()
                    load.streams_open.discard(rid)
                else:
                    payload = await resp.read()
        except aiohttp.ClientError as exc:
            if not load.terminated:
                raise
            if rid is not None:  # a 200 answer cut off by the shutdown
                load.broken.append(f"{rid}: {exc!r}")
            return  # the server stopped taking requests
        if not _complete(stream, payload):
            load.broken.append(f"{rid}: incomplete answer {payload[-80:]!r}")
        else:
            load.completed.add(rid)


async def _drive_until_stopped(load: _TermLoad, workers: int) -> None:
    limits = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(connector=limits, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(_term_worker(session, load, n) for n in range(workers)))


def test_sigterm_mid_load_writes_every_spend_record(tmp_path: Path, schema: str) -> None:
    """SIGTERM while streams are in flight: they finish, and every answered request has one spend row."""
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_list": _mock(stream_delay=0.03),
                "general_settings": {"master_key": MASTER_KEY, "database_url": f"{PG}?schema={schema}"},
                "bastion_settings": {"log_requests": False},
            }
        )
    )
    server = ServeProcess(config)
    try:
        server.start()
        load = _TermLoad(server, sigterm_after=40)
        asyncio.run(_drive_until_stopped(load, workers=8))
        code = server.wait()
    finally:
        server.kill()
    assert code == 0, server.log()
    assert load.terminated and load.in_flight_at_sigterm, "SIGTERM did not land mid-stream"
    assert not load.broken, load.broken
    # The streams open at the signal were answered in full, and so were billed.
    assert load.in_flight_at_sigterm <= load.completed
    _assert_every_request_logged_once(schema, load.completed)
    assert not list(tmp_path.glob(SEGMENTS)), "rows were left in the journal though the database was up"


# ---------------------------------------------------------------------------- database outage


class _Load:
    """Requests from several threads; each answered request's id, by the phase it started in."""

    def __init__(self, url: str, threads: int) -> None:
        self._url = url + CHAT
        self._cond = threading.Condition()
        self._stop = False
        self.phase = 0
        self.completed: dict[int, set[str]] = {}
        self.errors: list[str] = []
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
        for thread in self._threads:
            thread.join(timeout=30)

    def next_phase(self) -> None:
        with self._cond:
            self.phase += 1

    def ids(self, phase: int | None = None) -> set[str]:
        with self._cond:
            if phase is not None:
                return set(self.completed.get(phase, ()))
            return set().union(*self.completed.values())

    def wait_for(self, phase: int, count: int) -> None:
        """Block until ``count`` requests started in ``phase`` were answered (or a request failed)."""
        with self._cond:
            done = self._cond.wait_for(
                lambda: self.errors or len(self.completed.get(phase, ())) >= count, timeout=20
            )
        assert done and not self.errors, self.errors or f"fewer than {count} answers in phase {phase}"

    def _run(self, n: int) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                phase = self.phase
            stream = n % 2 == 0
            n += 1
            request = urllib.request.Request(
                self._url,
                data=orjson.dumps(_body(stream)),
                headers=AUTH | {"content-type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=20) as resp:
                    rid, payload = resp.headers["x-request-id"], resp.read()
                ok = resp.status == 200 and _complete(stream, payload)
                problem = None if ok else f"{rid}: incomplete answer {payload[-80:]!r}"
            except (urllib.error.URLError, OSError) as exc:
                rid, problem = None, f"phase {phase}: {exc!r}"
            with self._cond:
                if problem is not None:
                    self.errors.append(problem)
                else:
                    self.completed.setdefault(phase, set()).add(str(rid))
                self._cond.notify_all()
            if problem is not None:
                return


def _spooled_ids(paths: list[Path]) -> set[str]:
    return {
        orjson.loads(line)["request_id"]
        for path in paths
        for line in path.read_bytes().splitlines()
        if line.strip()
    }


def test_database_outage_mid_load_loses_no_spend_record(
    tmp_path: Path, schema: str, write_config: Callable[[dict[str, Any]], Any]
) -> None:
    """Requests are answered while the database is cut off; their rows wait on disk, then are written once."""
    with TcpProxy(5432) as proxy:
        settings = write_config(
            {
                "model_list": _mock(stream_delay=0.002),
                "general_settings": {
                    "database_url": f"postgresql://postgres:root@127.0.0.1:{proxy.port}/test?schema={schema}"
                },
                "bastion_settings": {"log_requests": False},
            }
        )
        gw = RunningGateway(settings)
        gw.start()
        load = _Load(gw.url, threads=4)
        try:
            assert gw.app is not None and gw.app.spend_writer is not None
            writer = gw.app.spend_writer
            assert proxy.accepted > 0  # migrations went through the proxy
            load.start()
            load.wait_for(phase=0, count=20)

            proxy.cut()  # mid-load: every database connection reset, new ones refused
            load.next_phase()
            load.wait_for(phase=1, count=20)  # still answered: the request path needs no database
            during = load.ids(phase=1)
            gw.call(writer.flush())
            assert writer.backlog and during <= _spooled_ids(writer.backlog)

            proxy.restore()
            load.next_phase()
            load.wait_for(phase=2, count=20)
            load.stop()
            assert not load.errors, load.errors
            gw.call(writer.flush())
            assert not writer.backlog, "the backlog was not replayed once the database was back"
            assert writer.spooled >= len(during)
        finally:
            load.stop()
            gw.stop()
    _assert_every_request_logged_once(schema, load.ids())
