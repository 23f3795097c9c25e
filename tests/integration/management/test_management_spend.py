"""GET /spend/logs: per-request rows (summarize=false) and per-day totals (the default), filtered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from management_harness import Backend, Harness

from bastion.store import SpendLogRecord

# Fixed days in the past: the daily summary without end_date stops at "now".
DAY_1 = datetime(2025, 10, 30, 9, 0, tzinfo=UTC)
DAY_2 = datetime(2025, 10, 31, 23, 30, tzinfo=UTC)


async def seed_logs(h: Harness) -> dict[str, Any]:
    """Two keys of one team: three requests on day 1, two on day 2."""
    await h.post("/team/new", {"team_id": "org-1"})
    a = await h.generate(team_id="org-1", user_id="s-a")
    b = await h.generate(team_id="org-1", user_id="s-b")
    logs = [
        SpendLogRecord(
            request_id=f"req-{n}",
            api_key=key["token"],
            start_time=start + timedelta(minutes=n),
            end_time=start + timedelta(minutes=n, seconds=2),
            spend=0.5 * (n + 1),
            team_id="org-1",
            user=key["user_id"],
            end_user="end-1",
            model_group=group,
            model="upstream-" + group,
            deployment_id="dep-1",
            custom_llm_provider="openai",
            prompt_tokens=10,
            completion_tokens=5,
            total_tokens=15,
            cache_hit=n == 0,
            metadata={"n": n},
        )
        for n, (key, start, group) in enumerate(
            [(a, DAY_1, "gpt"), (a, DAY_1, "claude"), (b, DAY_1, "gpt"), (a, DAY_2, "gpt"), (b, DAY_2, "gpt")]
        )
    ]
    assert await h.db.spend.insert_spend_logs(logs) == 5
    return {"a": a, "b": b}


def test_rows_for_one_key_in_litellm_column_names(backend: Backend) -> None:
    """summarize=false with api_key (the key itself) answers that key's rows, newest first."""

    async def scenario(h: Harness) -> tuple[dict[str, Any], Any]:
        keys = await seed_logs(h)
        rows = await h.get("/spend/logs", api_key=keys["a"]["key"], summarize="false")
        return keys, rows.body

    keys, rows = backend.run(scenario)
    assert [row["request_id"] for row in rows] == ["req-3", "req-1", "req-0"]
    row = rows[-1]
    assert row["api_key"] == keys["a"]["token"] and row["spend"] == 0.5
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (10, 5, 15)
    assert row["startTime"] == DAY_1.isoformat() and row["endTime"] is not None
    assert (row["model"], row["model_group"], row["model_id"]) == ("upstream-gpt", "gpt", "dep-1")
    assert (row["user"], row["team_id"], row["end_user"]) == ("s-a", "org-1", "end-1")
    assert row["status"] == "success" and row["cache_hit"] == "True" and row["metadata"] == {"n": 0}


def test_summary_is_one_entry_per_day(backend: Backend) -> None:
    """The default (summarize=true) answers per-day totals with spend by model, user, team and key."""

    async def scenario(h: Harness) -> tuple[dict[str, Any], Any]:
        keys = await seed_logs(h)
        return keys, (await h.get("/spend/logs", team_id="org-1")).body

    keys, days = backend.run(scenario)
    assert [day["startTime"] for day in days] == ["2025-10-30", "2025-10-31"]
    first = days[0]
    assert first["spend"] == 3.0 and first["requests"] == 3 and first["total_tokens"] == 45
    assert first["models"] == {"gpt": 2.0, "claude": 1.0}
    assert first["users"] == {"s-a": 1.5, "s-b": 1.5} and first["teams"] == {"org-1": 3.0}
    assert first["api_keys"] == {keys["a"]["token"]: 1.5, keys["b"]["token"]: 1.5}
    assert days[1]["spend"] == 4.5


def test_date_filters_include_the_whole_end_day(backend: Backend) -> None:
    """start_date/end_date as dates cover whole days; user_id and request_id filter too."""

    async def scenario(h: Harness) -> list[Any]:
        await seed_logs(h)
        day_1 = await h.get("/spend/logs", start_date="2025-10-30", end_date="2025-10-30", summarize="false")
        day_2 = await h.get("/spend/logs", start_date="2025-10-31T00:00:00Z", summarize="false")
        user = await h.get("/spend/logs", user_id="s-b", summarize="false")
        one = await h.get("/spend/logs", request_id="req-2", summarize="false")
        return [day_1.body, day_2.body, user.body, one.body]

    day_1, day_2, user, one = backend.run(scenario)
    assert sorted(r["request_id"] for r in day_1) == ["req-0", "req-1", "req-2"]
    assert sorted(r["request_id"] for r in day_2) == ["req-3", "req-4"]
    assert sorted(r["request_id"] for r in user) == ["req-2", "req-4"]
    assert [r["request_id"] for r in one] == ["req-2"]


def test_bad_spend_queries_are_400(backend: Backend) -> None:
    """A malformed date, an end before the start, a bad summarize or limit: 400 naming the parameter."""

    async def scenario(h: Harness) -> list[tuple[int, Any]]:
        found = []
        for query in (
            {"start_date": "yesterday"},
            {"start_date": "2025-10-31", "end_date": "2025-10-01"},
            {"summarize": "maybe"},
            {"summarize": "false", "limit": 0},
        ):
            response = await h.get("/spend/logs", **query)
            found.append((response.status, response.error["param"]))
        return found

    assert backend.run(scenario) == [
        (400, "start_date"),
        (400, "end_date"),
        (400, "summarize"),
        (400, "limit"),
    ]
