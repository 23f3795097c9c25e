"""/team/*: new, info, list, update and delete, in LiteLLM's shapes, revoking the team's keys."""

from __future__ import annotations

from typing import Any

from management_harness import Backend, Harness


def test_new_team_then_info_lists_its_keys_by_hash(backend: Backend) -> None:
    """/team/new stores the fields; /team/info answers team_info and the keys (token + key_name)."""

    async def scenario(h: Harness) -> list[Any]:
        created = await h.post(
            "/team/new",
            {
                "team_id": "org-1",
                "team_alias": "Org One",
                "models": ["gpt", "claude"],
                "max_budget": 100,
                "budget_duration": "1mo",
                "rpm_limit": 60,
                "metadata": {"plan": "pro"},
                "members_with_roles": [{"role": "admin", "user_id": "alice"}, {"user_email": "b@x.io"}],
            },
        )
        key = await h.generate(team_id="org-1", models=["gpt"])
        info = await h.get("/team/info", team_id="org-1")
        return [created, key, info]

    created, key, info = backend.run(scenario)
    assert created.status == 200 and created.body["team_id"] == "org-1"
    assert created.body["models"] == ["gpt", "claude"] and created.body["max_budget"] == 100.0
    assert created.body["budget_reset_at"] is not None and created.body["rpm_limit"] == 60
    assert created.body["members_with_roles"] == [
        {"role": "admin", "user_id": "alice"},
        {"role": "user", "user_email": "b@x.io"},
    ]
    assert info.status == 200 and info.body["team_id"] == "org-1"
    assert info.body["team_info"]["team_alias"] == "Org One"
    assert [(k["token"], k["key_name"]) for k in info.body["keys"]] == [(key["token"], key["key_name"])]
    assert key["key"] not in str(info.body)


def test_team_ids_are_generated_and_duplicates_refused(backend: Backend) -> None:
    """Without team_id a uuid4 hex is made; a taken team_id is a 400 saying it already exists."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.post("/team/new", {"team_alias": "anon", "models": ["all-proxy-models"]})
        await h.post("/team/new", {"team_id": "org-1"})
        again = await h.post("/team/new", {"team_id": "org-1"})
        return [made, again]

    made, again = backend.run(scenario)
    team_id = made.body["team_id"]
    assert len(team_id) == 32 and int(team_id, 16) >= 0
    assert made.body["models"] == []
    assert again.status == 400 and "already exists" in again.error["message"]


def test_info_of_an_unknown_team_is_404_and_team_id_is_required(backend: Backend) -> None:
    """/team/info answers 404 for a missing team (clients create it then) and 400 without team_id."""

    async def scenario(h: Harness) -> list[Any]:
        return [await h.get("/team/info", team_id="nope"), await h.get("/team/info")]

    missing, no_param = backend.run(scenario)
    assert missing.status == 404 and "nope" in missing.error["message"]
    assert no_param.status == 400 and no_param.error["param"] == "team_id"


def test_list_answers_every_team_as_a_json_list(backend: Backend) -> None:
    """/team/list is a JSON list of the teams, oldest first."""

    async def scenario(h: Harness) -> Any:
        for name in ("a", "b", "c"):
            await h.post("/team/new", {"team_id": name})
        return (await h.get("/team/list")).body

    teams = backend.run(scenario)
    assert isinstance(teams, list) and sorted(t["team_id"] for t in teams) == ["a", "b", "c"]


def test_update_changes_the_team_and_revokes_each_of_its_keys(backend: Backend) -> None:
    """/team/update answers {team_id, data}; the team's keys are announced as changed, or revoked when
    the team is blocked; an unknown team is 404."""

    async def scenario(h: Harness) -> list[Any]:
        await h.post("/team/new", {"team_id": "org-1", "rpm_limit": 10})
        keys = [await h.generate(team_id="org-1") for _ in range(2)]
        await h.generate()
        changed = await h.post("/team/update", {"team_id": "org-1", "rpm_limit": 99})
        updated = await h.post("/team/update", {"team_id": "org-1", "blocked": True})
        missing = await h.post("/team/update", {"team_id": "nope", "rpm_limit": 1})
        refused = await h.get("/key/info", auth=keys[0]["key"])
        return [keys, changed, updated, missing, refused, list(h.changed), list(h.revoked)]

    keys, changed, updated, missing, refused, announced, revoked = backend.run(scenario)
    assert updated.status == 200 and updated.body["team_id"] == "org-1"
    assert updated.body["data"]["rpm_limit"] == 99 and updated.body["data"]["blocked"] is True
    assert missing.status == 404
    assert refused.status == 401, "a blocked team's keys are refused"
    assert changed.body["data"]["blocked"] is False
    assert sorted(announced) == sorted(revoked) == sorted(k["token"] for k in keys)


def test_delete_removes_teams_and_their_keys(backend: Backend) -> None:
    """/team/delete {team_ids} answers deleted_teams, deletes and revokes the keys; a missing team is
    a 404 and nothing is deleted."""

    async def scenario(h: Harness) -> list[Any]:
        await h.post("/team/new", {"team_id": "a"})
        await h.post("/team/new", {"team_id": "b"})
        key = await h.generate(team_id="a")
        refused = await h.post("/team/delete", {"team_ids": ["a", "missing"]})
        still = await h.get("/team/info", team_id="a")
        deleted = await h.post("/team/delete", {"team_ids": ["a", "b"]})
        gone = await h.get("/key/info", key=key["token"])
        return [key, refused, still, deleted, gone, list(h.revoked)]

    key, refused, still, deleted, gone, revoked = backend.run(scenario)
    assert refused.status == 404 and "missing" in refused.error["message"]
    assert still.status == 200
    assert deleted.body == {"deleted_teams": ["a", "b"]}
    assert gone.status == 404 and revoked == [key["token"]]


def test_bad_team_fields_are_400(backend: Backend) -> None:
    """A bad member role, a member without id or email, a negative budget, no team_ids: 400 naming it."""

    async def scenario(h: Harness) -> list[tuple[int, Any]]:
        found = []
        for fields in (
            {"members_with_roles": [{"role": "owner", "user_id": "x"}]},
            {"members_with_roles": [{"role": "user"}]},
            {"max_budget": -5},
        ):
            response = await h.post("/team/new", fields)
            found.append((response.status, response.error["param"]))
        for fields in ({"team_ids": []}, {"team_ids": "a"}):
            response = await h.post("/team/delete", fields)
            found.append((response.status, response.error["param"]))
        return found

    assert backend.run(scenario) == [
        (400, "members_with_roles"),
        (400, "members_with_roles"),
        (400, "max_budget"),
        (400, "team_ids"),
        (400, "team_ids"),
    ]
