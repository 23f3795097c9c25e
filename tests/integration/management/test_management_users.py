"""/user/new and /user/info, in LiteLLM's shapes (auto_create_key on by default)."""

from __future__ import annotations

from typing import Any

from management_harness import Backend, Harness, sha256


def test_new_user_gets_a_working_key_by_default(backend: Backend) -> None:
    """/user/new creates the user and a key with the user's models and limits; the key works."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.post(
            "/user/new",
            {
                "user_email": "a@x.io",
                "user_role": "internal_user",
                "models": ["gpt"],
                "max_budget": 20,
                "rpm_limit": 7,
                "key_alias": "alice-key",
                "duration": "1h",
            },
        )
        works = await h.get("/key/info", auth=made.body["key"])
        return [made, works]

    made, works = backend.run(scenario)
    body = made.body
    assert made.status == 200 and len(body["user_id"]) == 32
    assert body["user_email"] == "a@x.io" and body["max_budget"] == 20.0 and body["models"] == ["gpt"]
    assert body["token"] == sha256(body["key"]) and body["key_name"] == f"sk-...{body['key'][-4:]}"
    assert body["expires"] is not None
    info = works.body["info"]
    assert works.status == 200 and info["user_id"] == body["user_id"]
    assert info["models"] == ["gpt"] and info["rpm_limit"] == 7 and info["max_budget"] is None
    assert info["key_alias"] == "alice-key"


def test_new_user_without_a_key_and_with_teams(backend: Backend) -> None:
    """auto_create_key=false answers key null; teams must exist and gain the user as a member."""

    async def scenario(h: Harness) -> list[Any]:
        await h.post("/team/new", {"team_id": "org-1"})
        made = await h.post("/user/new", {"user_id": "bob", "teams": ["org-1"], "auto_create_key": False})
        team = await h.get("/team/info", team_id="org-1")
        unknown = await h.post("/user/new", {"user_id": "carol", "teams": ["nope"]})
        carol = await h.get("/user/info", user_id="carol")
        return [made, team, unknown, carol]

    made, team, unknown, carol = backend.run(scenario)
    assert made.status == 200 and made.body["key"] is None and made.body["teams"] == ["org-1"]
    assert team.body["team_info"]["members_with_roles"] == [{"role": "user", "user_id": "bob"}]
    assert unknown.status == 400 and "nope" in unknown.error["message"]
    assert carol.status == 404


def test_a_failed_key_leaves_no_user_behind(backend: Backend) -> None:
    """When the user's key cannot be made (unknown team_id), the user is not created either."""

    async def scenario(h: Harness) -> list[Any]:
        failed = await h.post("/user/new", {"user_id": "dave", "team_id": "missing"})
        return [failed, await h.get("/user/info", user_id="dave")]

    failed, info = backend.run(scenario)
    assert failed.status == 400 and failed.error["param"] == "team_id"
    assert info.status == 404


def test_user_info_lists_keys_and_teams(backend: Backend) -> None:
    """/user/info answers user_info, the user's keys (hashes) and teams; a session id with keys but no
    row answers user_info null; an unknown id is 404."""

    async def scenario(h: Harness) -> list[Any]:
        await h.post("/team/new", {"team_id": "org-1"})
        made = await h.post("/user/new", {"user_id": "erin", "team_id": "org-1"})
        session_key = await h.generate(user_id="session-1", team_id="org-1")
        erin = await h.get("/user/info", user_id="erin")
        session = await h.get("/user/info", user_id="session-1")
        missing = await h.get("/user/info", user_id="nobody")
        return [made, session_key, erin, session, missing]

    made, session_key, erin, session, missing = backend.run(scenario)
    assert erin.body["user_id"] == "erin" and erin.body["user_info"]["user_id"] == "erin"
    assert [k["token"] for k in erin.body["keys"]] == [made.body["token"]]
    assert [t["team_id"] for t in erin.body["teams"]] == ["org-1"]
    assert session.body["user_info"] is None
    assert [k["token"] for k in session.body["keys"]] == [session_key["token"]]
    assert missing.status == 404


def test_bad_user_fields_are_400(backend: Backend) -> None:
    """An unknown user_role, a non-list teams, a taken user_id or a bad flag: 400, and no user is made."""

    async def scenario(h: Harness) -> list[tuple[int, Any]]:
        await h.post("/user/new", {"user_id": "frank", "auto_create_key": False})
        found = []
        for fields in (
            {"user_role": "root"},
            {"teams": "org-1"},
            {"user_id": "frank"},
            {"user_id": "gina", "auto_create_key": "no"},
        ):
            response = await h.post("/user/new", fields)
            found.append((response.status, response.error["param"]))
        found.append(((await h.get("/user/info", user_id="gina")).status, None))
        return found

    assert backend.run(scenario) == [
        (400, "user_role"),
        (400, "teams"),
        (400, "user_id"),
        (400, "auto_create_key"),
        (404, None),
    ]
