"""Values one database backend refuses get a 400 naming the field on both, never a 500.

The reproductions of the hostile-input report: on SQLite, integers beyond 64 bits and ``1e308``
overflowed; on PostgreSQL, a NUL character in any string, limits beyond 2^31, budgets of 10^8 or
more, strings longer than their column and JSON nested hundreds of levels deep failed in the
database (or in re-encoding) and answered 500. Lookups with a value no row can hold simply find
nothing.
"""

from __future__ import annotations

import json
from typing import Any

from management_harness import Backend, Harness


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def _deep(field: str, depth: int) -> str:
    """A body whose ``field`` is JSON nested ``depth`` levels, as text (deeper than Python encodes)."""
    return f'{{"{field}": ' + '{"a": ' * depth + '"x"' + "}" * depth + "}"


#: (path, body, the field the 400 names): each body alone is refused.
REFUSED = [
    ("/team/new", {"rpm_limit": 9223372036854775808}, "rpm_limit"),
    ("/team/new", {"tpm_limit": 2**63}, "tpm_limit"),
    ("/team/new", {"max_budget": 1e308}, "max_budget"),
    ("/team/new", {"max_parallel_requests": 2**31}, "max_parallel_requests"),
    ("/team/new", {"team_id": "org\u0000"}, "team_id"),
    ("/team/new", {"team_alias": "x" * 256}, "team_alias"),
    ("/team/new", _deep("metadata", 300), "metadata"),
    ("/team/new", {"members_with_roles": [{"user_id": "\u0000"}]}, "members_with_roles"),
    ("/key/generate", {"rpm_limit": 9223372036854775808}, "rpm_limit"),
    ("/key/generate", {"tpm_limit": 2**63}, "tpm_limit"),
    ("/key/generate", {"rpm_limit": 2**31}, "rpm_limit"),
    ("/key/generate", {"rpm_limit": 2**70}, "rpm_limit"),
    ("/key/generate", {"max_budget": 1e308}, "max_budget"),
    ("/key/generate", {"max_budget": 100_000_000}, "max_budget"),
    ("/key/generate", {"key_alias": "a\u0000b"}, "key_alias"),
    ("/key/generate", {"key_alias": "x" * 256}, "key_alias"),
    ("/key/generate", {"user_id": "\u0000"}, "user_id"),
    ("/key/generate", {"models": ["gpt\u0000"]}, "models"),
    ("/key/generate", {"metadata": {"a": "\u0000"}}, "metadata"),
    ("/key/generate", {"metadata": {"\u0000": 1}}, "metadata"),
    ("/key/generate", {"metadata": _nested(33)}, "metadata"),
    ("/key/generate", _deep("metadata", 253), "metadata"),
    ("/key/generate", _deep("metadata", 1023), "metadata"),
    ("/key/generate", {"key": "sk-custom\u0000value"}, "key"),
    ("/key/generate", {"key": "sk-has spaces-123"}, "key"),
    ("/key/generate", {"duration": "99999999999d"}, "duration"),
    ("/key/generate", {"duration": "9999999mo"}, "duration"),
    ("/key/generate", {"budget_duration": "99999999999d"}, "budget_duration"),
    ("/user/new", {"user_id": "\u0000"}, "user_id"),
    ("/user/new", {"user_email": "a\u0000@example.com"}, "user_email"),
    ("/user/new", {"max_budget": 1e308}, "max_budget"),
    ("/user/new", {"teams": ["\u0000"]}, "teams"),
]


def test_a_value_a_backend_cannot_store_is_a_400_naming_the_field(backend: Backend) -> None:
    """Each body of :data:`REFUSED`: the same 400 on SQLite and PostgreSQL, the field named, the
    value not echoed, nothing stored."""

    async def scenario(h: Harness) -> list[str]:
        wrong = []
        for path, body, param in REFUSED:
            # Sent as a client would: integers of any size, NUL escaped as \u0000.
            raw = body if isinstance(body, str) else json.dumps(body)
            response = await h.post(path, raw=raw.encode())
            error = response.body.get("error", {}) if isinstance(response.body, dict) else {}
            message = str(error.get("message", ""))
            if (
                response.status != 400
                or error.get("param") != param
                or "\u0000" in message
                or "x" * 256 in message
            ):
                wrong.append(f"{path} {raw[:80]}: {response.status} {response.body}")
        keys = await h.db.keys.list_keys(size=100)
        teams = await h.db.teams.list_teams(size=100)
        users = await h.db.users.list_users(size=100)
        if keys.total_count or teams.total_count or users.total_count:
            wrong.append(
                f"stored: {keys.total_count} keys, {teams.total_count} teams, {users.total_count} users"
            )
        return wrong

    assert backend.run(scenario) == []


def test_the_largest_values_both_backends_store_are_accepted(backend: Backend) -> None:
    """Limits of 2^31 - 1, a budget of 99,999,999 USD, ids of 255 characters, metadata 32 levels deep."""

    async def scenario(h: Harness) -> tuple[Any, Any]:
        team = await h.post(
            "/team/new",
            {"team_id": "t" * 255, "rpm_limit": 2**31 - 1, "max_budget": 99_999_999, "metadata": _nested(31)},
        )
        key = await h.post(
            "/key/generate",
            {
                "team_id": "t" * 255,
                "tpm_limit": 2**31 - 1,
                "max_budget": 99_999_999.5 - 0.5,
                "key_alias": "k" * 255,
            },
        )
        return team, key

    team, key = backend.run(scenario)
    assert team.status == 200, team.body
    assert team.body["rpm_limit"] == 2**31 - 1 and team.body["max_budget"] == 99_999_999.0
    assert key.status == 200, key.body
    assert key.body["tpm_limit"] == 2**31 - 1 and key.body["key_alias"] == "k" * 255


#: (method, path, query, body, status): lookups with values no row can hold.
LOOKUPS = [
    ("GET", "/key/info", {"key": "\u0000"}, None, 404),
    ("GET", "/key/info", {"key": "sk-\u0000"}, None, 404),
    ("GET", "/key/list", {"team_id": "\u0000"}, None, 200),
    ("GET", "/key/list", {"key_hash": "\u0000"}, None, 200),
    ("GET", "/key/list", {"key_alias": "x" * 300}, None, 200),
    ("GET", "/team/info", {"team_id": "\u0000"}, None, 404),
    ("GET", "/user/info", {"user_id": "\u0000"}, None, 404),
    ("GET", "/spend/logs", {"request_id": "\u0000"}, None, 200),
    ("GET", "/spend/logs", {"request_id": "\u0000", "summarize": "false"}, None, 200),
    ("GET", "/spend/logs", {"api_key": "\u0000", "team_id": "x" * 300}, None, 200),
    ("GET", "/spend/logs", {"end_date": "9999-12-31"}, None, 400),
    ("GET", "/billing/events", {"team_id": "\u0000"}, None, 200),
    ("GET", "/user/list", {"page": "\u00b2"}, None, 400),
    ("POST", "/key/delete", None, {"keys": ["\u0000"]}, 400),
    ("POST", "/key/delete", None, {"key_aliases": ["\u0000"]}, 400),
    ("POST", "/key/block", None, {"key": "\u0000"}, 400),
    ("POST", "/key/regenerate", None, {"key": "\u0000"}, 400),
    ("POST", "/team/update", None, {"team_id": "\u0000"}, 400),
    ("POST", "/team/delete", None, {"team_ids": ["\u0000"]}, 400),
    ("POST", "/user/update", None, {"user_id": "\u0000"}, 400),
    ("POST", "/user/delete", None, {"user_ids": ["\u0000"]}, 400),
    ("POST", "/billing/events/retry", None, {"id": 2**63}, 400),
    ("POST", "/key/delete", None, {"keys": ["sk-nothing-here-0000", "f" * 100]}, 404),
]


def test_a_lookup_no_row_could_match_finds_nothing(backend: Backend) -> None:
    """A NUL or an over-long value in a query string finds nothing (404, or an empty list); in a
    body it is refused (400 naming the field) like any value that could not be stored; never 500."""

    async def scenario(h: Harness) -> list[str]:
        wrong = []
        for method, path, query, body, status in LOOKUPS:
            raw = None if body is None else json.dumps(body).encode()
            response = await h.call(method, path, query=query, raw=raw)
            answer = response.body
            good = response.status == status
            if good and status == 400 and body is not None and "id" not in body:
                good = "NUL" in answer["error"]["message"] and answer["error"]["param"] in body
            if good and status == 200:
                good = answer in (
                    [],
                    {"keys": [], "total_count": 0, "current_page": 1, "total_pages": 0},
                ) or (isinstance(answer, dict) and answer.get("events") == [])
            if not good:
                wrong.append(f"{method} {path} {query} {body}: {response.status} {answer}")
        return wrong

    assert backend.run(scenario) == []
