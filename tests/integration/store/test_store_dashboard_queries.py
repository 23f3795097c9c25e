"""The store queries behind the admin dashboard: keys by hash prefix, request timings, spend by owner."""

from __future__ import annotations

from datetime import timedelta

from store_backends import Backend
from test_store_spend import KEYS, NOW, log, seed_owners

from bastion.store import Database, SpendFilter


def test_find_by_prefix_names_one_key_and_refuses_anything_else(backend: Backend) -> None:
    """A hash prefix finds its key; unknown, empty, or non-hex prefixes (LIKE wildcards) find nothing."""

    async def scenario(db: Database) -> tuple[list[str], int, int, int, int]:
        await seed_owners(db)
        found = [k.token for k in await db.keys.find_by_prefix(KEYS[1][:16])]
        return (
            found,
            len(await db.keys.find_by_prefix("f" * 16 if not KEYS[0].startswith("f" * 16) else "0" * 16)),
            len(await db.keys.find_by_prefix("")),
            len(await db.keys.find_by_prefix("%")),
            len(await db.keys.find_by_prefix("_" * 16)),
        )

    found, unknown, empty, wildcard, underscores = backend.run(scenario)
    assert found == [KEYS[1]]
    assert (unknown, empty, wildcard, underscores) == (0, 0, 0, 0)


def test_request_timings_are_the_window_newest_first(backend: Backend) -> None:
    """Only logs in the window, newest first, with their times, status, tokens and cost."""
    batch = [
        log(
            n,
            end_time=NOW + timedelta(seconds=n, milliseconds=250),
            status="failure" if n == 3 else "success",
        )
        for n in range(6)
    ]

    async def scenario(db: Database) -> list[tuple[int, str, int, float]]:
        await seed_owners(db)
        await db.spend.insert_spend_logs(batch)
        rows = await db.spend.request_timings(SpendFilter(start=NOW + timedelta(seconds=2)), limit=3)
        return [
            (
                r.start_time.second,
                r.status,
                r.total_tokens,
                round((r.end_time - r.start_time).total_seconds(), 3),
            )  # type: ignore[operator]
            for r in rows
        ]

    assert backend.run(scenario) == [
        (5, "success", 20, 0.25),
        (4, "success", 19, 0.25),
        (3, "failure", 18, 0.25),
    ]


def test_spend_by_sums_each_owner_costliest_first(backend: Backend) -> None:
    """Per model group, key and team: request, error, token and cost sums that match the logs."""
    batch = [log(n, spend=0.01 * (n + 1), status="failure" if n == 0 else "success") for n in range(6)]

    async def scenario(db: Database) -> dict[str, list[tuple[str | None, int, float, int, int]]]:
        await seed_owners(db)
        await db.spend.insert_spend_logs(batch)
        out = {}
        for group in ("model", "key", "team", "user"):
            out[group] = [
                (g.group, g.requests, round(g.spend, 6), g.total_tokens, g.errors)
                for g in await db.spend.spend_by(group)
            ]
        return out

    got = backend.run(scenario)
    # n % 3 == 0 is claude (n = 0, 3): 0.01 + 0.04; the rest gpt: 0.02 + 0.03 + 0.05 + 0.06.
    assert got["model"] == [
        ("gpt", 4, 0.16, 15 * 4 + 1 + 2 + 4 + 5, 0),
        ("claude", 2, 0.05, 15 * 2 + 0 + 3, 1),
    ]
    assert [name for name, *_ in got["key"]] == [KEYS[2], KEYS[1], KEYS[0]]  # 0.09, 0.07, 0.05
    assert sum(requests for _, requests, *_ in got["team"]) == 6
    assert {name for name, *_ in got["user"]} == {"u-a", "u-b"}
