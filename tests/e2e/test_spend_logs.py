"""Every request leaves one spend-log row in the database, written off the request path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from test_sdk_passthrough import openai_client

from bastion.store.database import Database
from bastion.store.spend import SpendFilter
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream


def test_requests_are_logged_with_usage_and_cost(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """After a graceful stop, the SQLite file next to the config holds one row per request."""
    from support import standard_models

    gw = start_gateway({"model_list": standard_models(upstream.url)})
    client = openai_client(gw)
    for _ in range(3):
        client.chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    ids = [gw.next_record().request_id for _ in range(3)]
    gw.stop()  # the shutdown drains the spend writer
    db_path = Path(gw.settings.source).resolve().parent / "bastion.db"

    async def read() -> None:
        database = await Database.open(None, default_path=db_path, migrate=False)
        rows = await database.spend.query_spend_logs(SpendFilter(), limit=10)
        await database.close()
        assert sorted(r.request_id for r in rows) == sorted(ids)
        for row in rows:
            assert row.model_group == "claude" and row.custom_llm_provider == "anthropic"
            assert row.completion_tokens == 2 and row.spend > 0 and row.status == "success"

    asyncio.run(read())
