"""/key/*: generate, info, update, block, delete, regenerate and list, in LiteLLM's shapes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from management_harness import Backend, Harness, sha256


def test_generate_returns_the_key_once_with_its_hash_name_and_expiry(backend: Backend) -> None:
    """/key/generate answers key, key_name, token (the hash), expires and the fields it stored."""

    async def scenario(h: Harness) -> tuple[dict[str, Any], str]:
        await h.post("/team/new", {"team_id": "org-1"})
        body = await h.generate(
            team_id="org-1",
            user_id="session-1",
            key_alias="session-1",
            duration="24h",
            max_budget=50,
            budget_duration="30d",
            models=["gpt"],
            rpm_limit=10,
            tpm_limit=1000,
            max_parallel_requests=2,
            metadata={"org_id": "org-1"},
            soft_budget=10,
            tags=["a"],
            made_up_field=1,
        )
        return body, (h.now + timedelta(hours=24)).isoformat()

    body, expires = backend.run(scenario)
    key = body["key"]
    assert key.startswith("sk-") and len(key) >= 20
    assert body["token"] == body["token_id"] == sha256(key)
    assert body["key_name"] == f"sk-...{key[-4:]}"
    assert body["expires"] == expires
    assert body["team_id"] == "org-1" and body["user_id"] == "session-1"
    assert body["max_budget"] == 50.0 and body["budget_duration"] == "30d"
    assert body["budget_reset_at"] is not None
    assert body["models"] == ["gpt"] and body["metadata"] == {"org_id": "org-1"}
    assert (body["rpm_limit"], body["tpm_limit"], body["max_parallel_requests"]) == (10, 1000, 2)
    assert body["blocked"] is False and body["created_at"] is not None
    assert not {"soft_budget", "tags", "made_up_field"} & body.keys()


def test_generate_without_duration_never_expires_and_accepts_a_custom_key(backend: Backend) -> None:
    """No duration means expires null; a custom sk- key is stored under its hash."""

    async def scenario(h: Harness) -> dict[str, Any]:
        return await h.generate(key="sk-my-own-key-123456")

    body = backend.run(scenario)
    assert body["expires"] is None
    assert body["key"] == "sk-my-own-key-123456" and body["token"] == sha256("sk-my-own-key-123456")


def test_generate_refuses_bad_fields_with_400_naming_them(backend: Backend) -> None:
    """Unknown team, models outside the team, bad values: 400 with the field as param; no key leaks."""

    async def scenario(h: Harness) -> list[tuple[int, Any, str]]:
        await h.post("/team/new", {"team_id": "org-1", "models": ["gpt"]})
        cases = [
            {"team_id": "missing-org"},
            {"team_id": "org-1", "models": ["claude"]},
            {"max_budget": -1},
            {"duration": "soon"},
            {"rpm_limit": "ten"},
            {"models": "gpt"},
            {"blocked": "yes"},
            {"key": "not-a-sk-key-secret-value"},
        ]
        found = []
        for fields in cases:
            response = await h.post("/key/generate", fields)
            found.append((response.status, response.error["param"], response.error["message"]))
        return found

    found = backend.run(scenario)
    assert [(status, param) for status, param, _ in found] == [
        (400, "team_id"),
        (400, "models"),
        (400, "max_budget"),
        (400, "duration"),
        (400, "rpm_limit"),
        (400, "models"),
        (400, "blocked"),
        (400, "key"),
    ]
    assert "missing-org" in found[0][2] and "claude" in found[1][2]
    assert all("secret-value" not in message for _, _, message in found)


def test_generate_refuses_a_taken_alias(backend: Backend) -> None:
    """A second key with the same key_alias is a 400 that names the alias."""

    async def scenario(h: Harness) -> tuple[int, str]:
        await h.generate(key_alias="dup")
        response = await h.post("/key/generate", {"key_alias": "dup"})
        return response.status, response.error["message"]

    status, message = backend.run(scenario)
    assert status == 400 and "dup" in message and "already exists" in message


def test_info_reads_a_key_by_value_or_hash_without_its_token(backend: Backend) -> None:
    """/key/info?key= accepts the key or its hash and returns {key: hash, info: row without token}."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate(key_alias="a", max_budget=5)
        by_value = await h.get("/key/info", key=made["key"])
        by_hash = await h.get("/key/info", key=made["token"])
        return [made, by_value, by_hash]

    made, by_value, by_hash = backend.run(scenario)
    assert by_value.status == by_hash.status == 200
    assert by_value.body == by_hash.body
    assert by_value.body["key"] == made["token"]
    info = by_value.body["info"]
    assert "token" not in info and info["key_alias"] == "a" and info["max_budget"] == 5.0
    assert made["key"] not in str(by_value.body)


def test_info_of_an_unknown_key_is_404_naming_it_safely(backend: Backend) -> None:
    """An unknown key is a 404 whose message shows sk-...abcd, never the key itself."""

    async def scenario(h: Harness) -> tuple[int, str]:
        response = await h.get("/key/info", key="sk-unknown-secret-9z9z")
        return response.status, response.error["message"]

    status, message = backend.run(scenario)
    assert status == 404 and "sk-...9z9z" in message and "secret" not in message


def test_a_virtual_key_reads_only_its_own_info(backend: Backend) -> None:
    """Without ?key= a virtual key gets its own row; another key's info is 403; master needs ?key=."""

    async def scenario(h: Harness) -> list[Any]:
        mine = await h.generate(key_alias="mine")
        other = await h.generate(key_alias="other")
        own = await h.get("/key/info", auth=mine["key"])
        own_by_value = await h.get("/key/info", auth=mine["key"], key=mine["key"])
        theirs = await h.get("/key/info", auth=mine["key"], key=other["token"])
        master = await h.get("/key/info")
        return [mine, own, own_by_value, theirs, master]

    mine, own, own_by_value, theirs, master = backend.run(scenario)
    assert own.status == own_by_value.status == 200
    assert own.body["key"] == mine["token"] and own.body["info"]["key_alias"] == "mine"
    assert theirs.status == 403 and theirs.error["type"] == "permission_error"
    assert master.status == 400 and master.error["param"] == "key"


def test_update_changes_fields_recomputes_expiry_and_announces_it(backend: Backend) -> None:
    """/key/update by key or key_alias changes what is sent, leaves null fields alone, announces the
    hash as changed (revoked when the update blocks the key)."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate(key_alias="k", duration="1h", rpm_limit=5, max_budget=10)
        first = await h.post(
            "/key/update", {"key": made["key"], "rpm_limit": 50, "max_budget": None, "duration": "2d"}
        )
        second = await h.post("/key/update", {"key_alias": "k", "duration": "-1", "metadata": {"a": 1}})
        renamed = await h.post("/key/update", {"key": made["token"], "key_alias": "k2"})
        missing = await h.post("/key/update", {"key": "sk-nope-nope-nope", "rpm_limit": 1})
        changed = list(h.changed)
        blocked = await h.post("/key/update", {"key": made["key"], "blocked": True})
        return [made, first, second, renamed, missing, changed, blocked, list(h.revoked), h.now]

    made, first, second, renamed, missing, changed, blocked, revoked, now = backend.run(scenario)
    assert first.status == 200 and first.body["key"] == made["token"]
    assert first.body["rpm_limit"] == 50 and first.body["max_budget"] == 10.0
    assert first.body["expires"] == (now + timedelta(days=2)).isoformat()
    assert second.body["expires"] is None and second.body["metadata"] == {"a": 1}
    assert second.body["key_alias"] == "k" and renamed.body["key_alias"] == "k2"
    assert missing.status == 404
    assert changed == [made["token"]] * 3
    assert blocked.body["blocked"] is True and revoked == [made["token"]]


def test_blocking_a_key_stops_it_and_unblocking_restores_it(backend: Backend) -> None:
    """/key/block makes the key fail authentication (401); /key/unblock makes it work again."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate()
        blocked = await h.post("/key/block", {"key": made["key"]})
        refused = await h.get("/key/info", auth=made["key"])
        unblocked = await h.post("/key/unblock", {"key": made["token"]})
        works = await h.get("/key/info", auth=made["key"])
        return [made, blocked, refused, unblocked, works, list(h.revoked), list(h.changed)]

    made, blocked, refused, unblocked, works, revoked, changed = backend.run(scenario)
    assert blocked.body["blocked"] is True and blocked.body["token"] == made["token"]
    assert refused.status == 401
    assert unblocked.body["blocked"] is False and works.status == 200
    assert revoked == [made["token"]] and changed == [made["token"]], "unblocking is a change"


def test_delete_by_keys_answers_the_values_passed_and_revokes(backend: Backend) -> None:
    """/key/delete {keys} deletes by value or hash, lists what it deleted as passed, 404 when none exist."""

    async def scenario(h: Harness) -> list[Any]:
        a, b = await h.generate(), await h.generate()
        deleted = await h.post("/key/delete", {"keys": [a["key"], b["token"], "sk-never-existed-1"]})
        again = await h.post("/key/delete", {"keys": [a["key"]]})
        gone = await h.get("/key/info", key=a["token"])
        return [a, b, deleted, again, gone, list(h.revoked)]

    a, b, deleted, again, gone, revoked = backend.run(scenario)
    assert deleted.status == 200 and deleted.body == {"deleted_keys": [a["key"], b["token"]]}
    assert again.status == 404 and gone.status == 404
    assert sorted(revoked) == sorted([a["token"], b["token"]])


def test_delete_by_key_aliases(backend: Backend) -> None:
    """/key/delete {key_aliases} deletes the keys with those aliases; unknown aliases alone are 404."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate(key_alias="session-9")
        deleted = await h.post("/key/delete", {"key_aliases": ["session-9", "unknown"]})
        missing = await h.post("/key/delete", {"key_aliases": ["unknown"]})
        empty = await h.post("/key/delete", {})
        return [made, deleted, missing, empty, list(h.revoked)]

    made, deleted, missing, empty, revoked = backend.run(scenario)
    assert deleted.body == {"deleted_keys": ["session-9"]}
    assert missing.status == 404 and empty.status == 400
    assert revoked == [made["token"]]


def test_regenerate_replaces_the_value_and_retires_the_old_one(backend: Backend) -> None:
    """/key/regenerate gives a new key for the same row; the old value stops working at once."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate(key_alias="r", max_budget=5)
        new = await h.post("/key/regenerate", {"key": made["key"], "max_budget": 7})
        old_works = await h.get("/key/info", auth=made["key"])
        new_works = await h.get("/key/info", auth=new.body["key"])
        return [made, new, old_works, new_works, list(h.revoked)]

    made, new, old_works, new_works, revoked = backend.run(scenario)
    assert new.status == 200 and new.body["key"] != made["key"]
    assert new.body["token"] == sha256(new.body["key"]) and new.body["key_alias"] == "r"
    assert new.body["max_budget"] == 7.0
    assert old_works.status == 401 and new_works.status == 200
    assert revoked == [made["token"]]


def test_regenerate_in_the_path_with_new_key_and_grace_period(backend: Backend) -> None:
    """/key/{key}/regenerate with new_key and grace_period keeps the old value working meanwhile
    (announced as changed, not revoked)."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate()
        new = await h.post(
            f"/key/{made['key']}/regenerate", {"new_key": "sk-rotated-value-0001", "grace_period": "24h"}
        )
        old_works = await h.get("/key/info", auth=made["key"])
        bad = await h.post(f"/key/{new.body['token']}/regenerate", {"new_key": "plain-value-0001"})
        missing = await h.post("/key/sk-no-such-key-xyz/regenerate")
        master = await h.post("/key/regenerate", {"key": made["key"], "new_master_key": "sk-x"})
        return [made, new, old_works, bad, missing, master, list(h.changed), list(h.revoked)]

    made, new, old_works, bad, missing, master, changed, revoked = backend.run(scenario)
    assert new.status == 200 and new.body["key"] == "sk-rotated-value-0001"
    assert old_works.status == 200 and old_works.body["key"] == sha256("sk-rotated-value-0001")
    assert bad.status == 400 and bad.error["param"] == "new_key"
    assert missing.status == 404 and "sk-...-xyz" in missing.error["message"]
    assert master.status == 400
    assert changed == [made["token"]] and revoked == []


def test_list_pages_hashes_or_full_objects_with_filters(backend: Backend) -> None:
    """/key/list answers {keys, total_count, current_page, total_pages}; hashes unless return_full_object."""

    async def scenario(h: Harness) -> list[Any]:
        await h.post("/team/new", {"team_id": "t"})
        made = [await h.generate(team_id="t" if i < 3 else None) for i in range(5)]
        page = await h.get("/key/list", page=2, size=2)
        team = await h.get("/key/list", team_id="t", return_full_object="true", size=100)
        by_hash = await h.get("/key/list", key_hash=made[0]["token"])
        too_big = await h.get("/key/list", size=101)
        return [made, page, team, by_hash, too_big]

    made, page, team, by_hash, too_big = backend.run(scenario)
    tokens = {m["token"] for m in made}
    assert page.body["total_count"] == 5 and page.body["total_pages"] == 3
    assert page.body["current_page"] == 2 and len(page.body["keys"]) == 2
    assert set(page.body["keys"]) <= tokens
    assert team.body["total_count"] == 3
    assert {k["token"] for k in team.body["keys"]} == {m["token"] for m in made[:3]}
    assert all(k["team_id"] == "t" and "key_name" in k for k in team.body["keys"])
    assert by_hash.body["keys"] == [made[0]["token"]]
    assert too_big.status == 400 and too_big.error["param"] == "size"


def test_an_old_value_in_its_grace_period_can_be_retired_early(backend: Backend) -> None:
    """After /key/regenerate with a grace period, /key/delete of the old value ends its grace now
    (revoked everywhere); the key lives on under its new value. A second delete finds nothing."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate(key_alias="rotating")
        new = await h.post("/key/regenerate", {"key": made["key"], "grace_period": "24h"})
        before = await h.get("/key/info", auth=made["key"])
        deleted = await h.post("/key/delete", {"keys": [made["key"]]})
        old_works = await h.get("/key/info", auth=made["key"])
        new_works = await h.get("/key/info", auth=new.body["key"])
        again = await h.post("/key/delete", {"keys": [made["key"]]})
        by_master = await h.get("/key/info", key=made["key"])
        return [made, before, deleted, old_works, new_works, again, by_master, list(h.revoked)]

    made, before, deleted, old_works, new_works, again, by_master, revoked = backend.run(scenario)
    assert before.status == 200
    assert deleted.status == 200 and deleted.body["deleted_keys"] == [made["key"]]
    assert old_works.status == 401 and new_works.status == 200
    assert new_works.body["info"]["key_alias"] == "rotating"
    assert again.status == 404 and by_master.status == 404
    assert revoked == [made["token"]]


def test_the_old_value_names_its_key_during_the_grace_period(backend: Backend) -> None:
    """Within the grace period the old value names the key: /key/block with it blocks the key (both
    values refused, both announced), /key/info with it reads the key; /key/unblock restores both."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate()
        new = await h.post("/key/regenerate", {"key": made["key"], "grace_period": "1h"})
        info = await h.get("/key/info", key=made["key"])
        blocked = await h.post("/key/block", {"key": made["key"]})
        old_blocked = await h.get("/key/info", auth=made["key"])
        new_blocked = await h.get("/key/info", auth=new.body["key"])
        revoked = list(h.revoked)
        await h.post("/key/unblock", {"key": new.body["key"]})
        old_back = await h.get("/key/info", auth=made["key"])
        return [made, new, info, blocked, old_blocked, new_blocked, revoked, old_back, list(h.changed)]

    made, new, info, blocked, old_blocked, new_blocked, revoked, old_back, changed = backend.run(scenario)
    assert info.status == 200 and info.body["key"] == new.body["token"]
    assert blocked.status == 200 and blocked.body["blocked"] is True
    assert old_blocked.status == 401 and new_blocked.status == 401
    assert sorted(revoked) == sorted([new.body["token"], made["token"]])
    assert old_back.status == 200
    assert new.body["token"] in changed and made["token"] in changed


def test_deleting_a_key_revokes_its_old_values_in_their_grace_period(backend: Backend) -> None:
    """Deleting a key (by its new value) also announces the old value still in its grace period,
    so no cache keeps it working."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.generate()
        new = await h.post("/key/regenerate", {"key": made["key"], "grace_period": "1h"})
        deleted = await h.post("/key/delete", {"keys": [new.body["key"]]})
        old_works = await h.get("/key/info", auth=made["key"])
        return [made, new, deleted, old_works, list(h.revoked)]

    made, new, deleted, old_works, revoked = backend.run(scenario)
    assert deleted.body["deleted_keys"] == [new.body["key"]]
    assert old_works.status == 401
    assert sorted(revoked) == sorted([new.body["token"], made["token"]])
