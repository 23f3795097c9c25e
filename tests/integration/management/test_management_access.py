"""Who may call the management API, how it fails, and the seed's generateSessionAPIKey flow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from management_harness import MODEL_INFO, Backend, Harness, Response

from bastion.store import Database

ROUTES = {
    "POST": [
        "/key/generate",
        "/key/update",
        "/key/delete",
        "/key/regenerate",
        "/key/block",
        "/key/unblock",
        "/team/new",
        "/team/update",
        "/team/delete",
        "/user/new",
        "/user/update",
        "/user/delete",
        # LiteLLM's budget tiers (plans) and customers, also under their older name /end_user.
        "/budget/new",
        "/budget/update",
        "/budget/info",
        "/budget/delete",
        *(
            f"{prefix}/{action}"
            for prefix in ("/customer", "/end_user")
            for action in ("new", "update", "delete", "block", "unblock")
        ),
        # Bastion's own: the billing outbox.
        "/billing/events/retry",
        "/billing/events/cancel",
    ],
    "GET": [
        "/key/info",
        "/key/list",
        "/team/info",
        "/team/list",
        "/user/info",
        "/user/list",
        "/budget/info",
        "/budget/list",
        "/customer/info",
        "/customer/list",
        "/end_user/info",
        "/end_user/list",
        "/spend/logs",
        "/model/info",
        "/v1/model/info",
        "/billing/events",
    ],
}
ADMIN_ROUTES = [(m, p) for m, paths in ROUTES.items() for p in paths if p != "/key/info"]
ADMIN_ROUTES.append(("POST", "/key/sk-some-key-0001/regenerate"))


def test_the_route_table_is_exactly_the_litellm_paths(backend: Backend) -> None:
    """The endpoints are these fixed paths plus POST /key/{key}/regenerate; a key in that path is
    one segment (a 405 for GET, a 404 for an empty or a two-segment key)."""

    async def scenario(h: Harness) -> tuple[dict[str, list[str]], list[int]]:
        table: dict[str, list[str]] = {}
        for endpoint in h.api.endpoints():
            table.setdefault(endpoint.method, []).append(endpoint.path)
        statuses = [
            (await h.call("POST", "/key/sk-abc/regenerate", {})).status,
            (await h.call("GET", "/key/sk-abc/regenerate")).status,
            (await h.call("POST", "/key//regenerate", {})).status,
            (await h.call("POST", "/key/a/b/regenerate", {})).status,
        ]
        return {method: sorted(paths) for method, paths in table.items()}, statuses

    table, statuses = backend.run(scenario)
    expected = {method: sorted(paths) for method, paths in ROUTES.items()}
    expected["POST"] = sorted([*expected["POST"], "/key/{key}/regenerate"])
    assert table == expected
    assert statuses == [404, 405, 404, 404]  # the first: the key does not exist


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_every_admin_route_needs_a_key_then_the_master_key(backend: Backend, method: str, path: str) -> None:
    """No key is a 401; a virtual key is a 403 saying the master key is needed."""

    async def scenario(h: Harness) -> tuple[Response, Response]:
        made = await h.generate()
        anonymous = await h.call(method, path, {}, auth=None)
        virtual = await h.call(method, path, {}, auth=made["key"])
        return anonymous, virtual

    anonymous, virtual = backend.run(scenario)
    assert anonymous.status == 401 and anonymous.error["type"] == "invalid_request_error"
    assert virtual.status == 403 and "master key" in virtual.error["message"]


def test_model_info_answers_the_configured_deployments(backend: Backend) -> None:
    """/model/info and /v1/model/info answer {"data": model_info()}."""

    async def scenario(h: Harness) -> list[Response]:
        return [await h.get("/model/info"), await h.get("/v1/model/info")]

    for response in backend.run(scenario):
        assert response.status == 200 and response.body == {"data": MODEL_INFO}


def test_the_seed_generate_session_api_key_flow(backend: Backend) -> None:
    """ensureTeamExists (team/info 404 -> team/new), revokeVirtualKey (404 is fine), key/generate with
    team_id=org, user_id=session, duration 24h, max_budget 50; the key then works."""

    async def scenario(h: Harness) -> list[Any]:
        probe = await h.get("/team/info", team_id="org_123")
        team = await h.post("/team/new", {"team_id": "org_123", "team_alias": "org_123"})
        again = await h.get("/team/info", team_id="org_123")
        revoke = await h.post("/key/delete", {"key_aliases": ["session_abc"]})
        generated = await h.post(
            "/key/generate",
            {
                "team_id": "org_123",
                "user_id": "session_abc",
                "key_alias": "session_abc",
                "duration": "24h",
                "max_budget": 50,
                "metadata": {"session_id": "session_abc", "org_id": "org_123"},
            },
        )
        own = await h.get("/key/info", auth=generated.body["key"])
        return [probe, team, again, revoke, generated, own]

    probe, team, again, revoke, generated, own = backend.run(scenario)
    assert probe.status == 404 and team.status == 200 and again.status == 200
    assert revoke.status == 404
    body = generated.body
    assert generated.status == 200 and body["key"].startswith("sk-") and body["expires"]
    assert (body["team_id"], body["user_id"]) == ("org_123", "session_abc")
    info = own.body["info"]
    assert own.status == 200 and info["max_budget"] == 50.0 and info["team_id"] == "org_123"


def test_bodies_that_are_not_json_objects_are_400(backend: Backend) -> None:
    """An empty body, invalid JSON or a JSON list is a 400 saying what is wrong."""

    async def scenario(h: Harness) -> list[Response]:
        return [
            await h.call("POST", "/key/generate", raw=b""),
            await h.call("POST", "/key/generate", raw=b"{nope"),
            await h.call("POST", "/key/generate", raw=b"[1]"),
        ]

    empty, invalid, listed = backend.run(scenario)
    assert empty.status == invalid.status == listed.status == 400
    assert "empty" in empty.error["message"] and "JSON" in invalid.error["message"]


def test_a_failing_revocation_does_not_fail_the_change(backend: Backend) -> None:
    """If on_revoke raises, the delete is still reported (it is committed) and the error is logged."""

    async def scenario(h: Harness) -> Response:
        made = await h.generate()
        h.revoke_error = ConnectionError("redis down")
        return await h.post("/key/delete", {"keys": [made["key"]]})

    response = backend.run(scenario)
    assert response.status == 200 and len(response.body["deleted_keys"]) == 1


def test_an_unexpected_failure_is_a_500_without_details(backend: Backend) -> None:
    """A bug inside a handler answers 500 in OpenAI's shape, without the exception's text."""

    async def scenario(h: Harness) -> Response:
        def broken() -> list[dict[str, Any]]:
            raise RuntimeError("internal detail sk-leaky-secret-123")

        h.model_info = broken
        return await h.get("/model/info")

    response = backend.run(scenario)
    assert response.status == 500 and "leaky" not in str(response.body)
    assert response.error["type"] == "server_error"


def test_an_unreachable_database_is_a_503(tmp_path: Path) -> None:
    """When the database cannot be reached the API answers 503 (retryable), not 500."""

    async def scenario() -> Response:
        db = await Database.open(
            "postgresql://postgres@127.0.0.1:1/test", default_path=tmp_path / "x.db", migrate=False
        )
        try:
            return await Harness(db, datetime.now(UTC)).post("/team/new", {"team_id": "x"})
        finally:
            await db.close()

    response = asyncio.run(scenario())
    assert response.status == 503 and response.error["type"] == "service_unavailable"
