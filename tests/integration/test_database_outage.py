"""A database outage: keys seen before it keep working, revocations still count, spend waits on disk.

Each test starts a PostgreSQL (and a Redis) of its own and kills the database mid-way. With the
default (``allow_requests_on_db_unavailable: true``) a key used before the outage keeps working
from the cache after its entry expired, unless Redis says it was revoked; a key never seen gets a
503; the rows of the answered requests wait in the journal and reach the database once it is back.
With ``allow_requests_on_db_unavailable: false`` the same key gets a 503 as soon as its cache entry
expires.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bastion.auth.keys import hash_key
from bastion.settings import Settings
from bastion.store.spend import SpendFilter
from bastion.testing.gateway import RunningGateway
from support import MASTER_KEY, deployment
from support.private_servers import PrivatePostgres, PrivateRedis

CHAT = "/v1/chat/completions"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    with PrivatePostgres() as pg, PrivateRedis(tmp_path) as redis:
        yield pg, redis


def _call(gw: RunningGateway, key: str, *, stream: bool = False) -> tuple[int, bytes, str | None]:
    body = {"model": "mock", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    request = urllib.request.Request(
        gw.url + CHAT,
        data=orjson.dumps(body),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as resp:
            return resp.status, resp.read(), resp.headers.get("x-request-id")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), None


def _make_key(gw: RunningGateway) -> str:
    request = urllib.request.Request(
        gw.url + "/key/generate",
        data=b"{}",
        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as resp:
        return str(orjson.loads(resp.read())["key"])


def _start(
    write_config: Callable[[dict[str, Any]], Settings],
    servers: tuple[PrivatePostgres, PrivateRedis],
    **general: Any,
) -> RunningGateway:
    pg, redis = servers
    settings = write_config(
        {
            "model_list": [deployment("mock", "mock/echo", None)],
            # A cache entry lasts 10 ms: every call after the outage began finds its entry expired.
            "general_settings": {"database_url": pg.url, "user_api_key_cache_ttl": 0.01, **general},
            "bastion_settings": {"redis_url": redis.url, "log_requests": False},
        }
    )
    gw = RunningGateway(settings)
    gw.start()
    return gw


def test_keys_seen_before_an_outage_keep_working_and_revocations_still_count(
    write_config: Callable[[dict[str, Any]], Settings], servers: tuple[PrivatePostgres, PrivateRedis]
) -> None:
    """Database killed: known keys are served (streams too) unless revoked in Redis; an unknown key
    gets a 503; every answered request's row is written once the database is back."""
    pg, _ = servers
    gw = _start(write_config, servers)
    try:
        assert gw.app is not None and gw.app.gatekeeper is not None and gw.app.spend_writer is not None
        kept, revoked, missed, never_used = (_make_key(gw) for _ in range(4))
        answered = []
        for key in (kept, revoked, missed):
            status, _, rid = _call(gw, key)
            assert status == 200
            answered.append(rid)

        pg.kill()
        for stream in (False, True, False):
            status, body, rid = _call(gw, kept, stream=stream)
            assert status == 200, body
            assert body.rstrip().endswith(b"[DONE]") if stream else b'"choices"' in body
            answered.append(rid)
        status, body, _ = _call(gw, never_used)
        assert status == 503 and b"database" in body, body

        revocations = gw.app.gatekeeper.limits.revocations
        gw.call(revocations.revoke(hash_key(revoked)))  # another process revoked it: a notice
        assert _call(gw, revoked)[0] == 401
        # A revocation whose notice this process missed: the marker in Redis is checked.
        gw.call(revocations.revoke(hash_key(missed)))
        status, body, _ = _call(gw, missed)
        assert status == 401 and b"revoked" in body, body
        assert _call(gw, kept)[0] == 200

        writer = gw.app.spend_writer
        gw.call(writer.flush())
        assert writer.backlog, "the rows of the outage should wait on disk"
        pg.start()
        gw.call(writer.flush())
        assert not writer.backlog
        assert gw.app.database is not None
        logs = gw.call(gw.app.database.spend.query_spend_logs(SpendFilter(), limit=100))
        assert set(answered) <= {log.request_id for log in logs}
    finally:
        gw.stop()


def test_fail_closed_refuses_known_keys_once_their_entry_expires(
    write_config: Callable[[dict[str, Any]], Settings], servers: tuple[PrivatePostgres, PrivateRedis]
) -> None:
    """allow_requests_on_db_unavailable: false: a key seen before the outage gets the 503 too."""
    pg, _ = servers
    gw = _start(write_config, servers, allow_requests_on_db_unavailable=False)
    try:
        key = _make_key(gw)
        assert _call(gw, key)[0] == 200
        pg.kill()
        status, body, _ = _call(gw, key)
        assert status == 503 and b"database_unavailable" in body, body
        pg.start()
        assert _call(gw, key)[0] == 200  # back: served again
    finally:
        gw.stop()
