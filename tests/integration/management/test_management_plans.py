"""/budget/* (plans) and /customer/* (end users on plans) in LiteLLM's shapes, on both backends."""

from __future__ import annotations

from typing import Any

from management_harness import Backend, Harness

from bastion.domain.plans import Plan

FREE = Plan("free", rpm_limit=10, max_tokens_per_period=100_000, quota_duration="1mo", source="config")
CONFIGURED = {"free": FREE}


def test_plans_are_created_read_listed_updated_and_deleted(backend: Backend) -> None:
    """A plan round-trips every field; /budget/list shows the config's plans first, with members."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.post(
            "/budget/new",
            {
                "budget_id": "pro",
                "rpm_limit": 600,
                "tpm_limit": 1_000_000,
                "max_parallel_requests": 8,
                "max_budget": 50,
                "budget_duration": "1mo",
                "max_tokens_per_period": 5_000_000,
                "quota_duration": "1mo",
                "count_cache_reads": False,
                "models": ["gpt"],
                "quota_message": "Your {plan} plan's {limit} tokens are used; they renew on {renews}.",
            },
        )
        await h.post("/customer/new", {"user_id": "alice", "budget_id": "pro"})
        await h.post("/customer/new", {"user_id": "bob", "budget_id": "free"})
        listed = await h.get("/budget/list")
        one = await h.get("/budget/info", budget_id="pro")
        named = await h.post("/budget/info", {"budgets": ["free", "pro"]})
        updated = await h.post("/budget/update", {"budget_id": "pro", "rpm_limit": 1200})
        deleted = await h.post("/budget/delete", {"id": "pro"})
        gone = await h.get("/budget/info", budget_id="pro")
        return [made, listed, one, named, updated, deleted, gone, h.plan_notices]

    made, listed, one, named, updated, deleted, gone, notices = backend.run(scenario, plans=CONFIGURED)
    assert made.status == 200, made.body
    body = made.body
    assert body["budget_id"] == "pro" and body["source"] == "api"
    assert (body["rpm_limit"], body["tpm_limit"], body["max_parallel_requests"]) == (600, 1_000_000, 8)
    assert (body["max_budget"], body["budget_duration"]) == (50.0, "1mo")
    assert (body["max_tokens_per_period"], body["quota_duration"], body["count_cache_reads"]) == (
        5_000_000,
        "1mo",
        False,
    )
    assert body["models"] == ["gpt"]
    assert [(p["budget_id"], p["source"], p["members"]) for p in listed.body] == [
        ("free", "config", 1),
        ("pro", "api", 1),
    ]
    assert one.body["members"] == 1 and one.body["quota_message"].startswith("Your {plan}")
    assert [p["budget_id"] for p in named.body] == ["free", "pro"]
    assert updated.status == 200 and updated.body["rpm_limit"] == 1200
    assert updated.body["tpm_limit"] == 1_000_000  # fields not sent are unchanged
    assert deleted.body == {"deleted_budgets": ["pro"]}
    assert gone.status == 404 and gone.error["code"] == "budget_not_found"
    # new, two customers, update, delete: each announced to the gateway processes.
    assert notices == 5


def test_bad_plans_are_refused_with_the_field_named(backend: Backend) -> None:
    """A config plan is read-only; bad numbers, durations without limits and bad sentences are 400s."""

    async def scenario(h: Harness) -> list[Any]:
        return [
            await h.post("/budget/new", {"budget_id": "free", "rpm_limit": 1}),
            await h.post("/budget/update", {"budget_id": "free", "rpm_limit": 1}),
            await h.post("/budget/delete", {"id": "free"}),
            await h.post("/budget/new", {"budget_id": "x", "quota_duration": "1mo"}),
            await h.post("/budget/new", {"budget_id": "x", "max_tokens_per_period": -1}),
            await h.post("/budget/new", {"budget_id": "x", "quota_message": "{plan} {nope}"}),
            await h.post("/budget/new", {"budget_id": "x", "quota_message": "a { b"}),
            await h.post("/budget/new", {"budget_id": "bad name"}),
            await h.post("/budget/new", {"rpm_limit": 1}),
            await h.post("/budget/new", {"budget_id": "x", "models": "gpt"}),
            await h.post("/budget/update", {"budget_id": "missing", "rpm_limit": 1}),
        ]

    results = backend.run(scenario, plans=CONFIGURED)
    read_only, read_only_update, read_only_delete = results[:3]
    for response in (read_only, read_only_update, read_only_delete):
        assert response.status == 403 and response.error["code"] == "plan_in_config"
        assert "bastion_settings.plans" in response.error["message"]
    duration, negative, unknown, brace, name, missing, aliases, absent = results[3:]
    assert duration.status == 400 and duration.error["param"] == "quota_duration"
    assert negative.status == 400 and negative.error["param"] == "max_tokens_per_period"
    assert unknown.status == 400 and "{nope}" in unknown.error["message"]
    assert brace.status == 400 and "brace" in brace.error["message"]
    assert name.status == 400 and name.error["param"] == "budget_id"
    assert missing.status == 400 and missing.error["param"] == "budget_id"
    assert aliases.status == 400 and aliases.error["param"] == "models"
    assert absent.status == 404


def test_customers_are_put_on_plans_blocked_and_moved(backend: Backend) -> None:
    """/customer/* and its older name /end_user/*: a plan must exist; null takes a user off it."""

    async def scenario(h: Harness) -> list[Any]:
        made = await h.post("/customer/new", {"user_id": "alice", "alias": "Alice", "budget_id": "free"})
        unknown_plan = await h.post("/customer/new", {"user_id": "bob", "budget_id": "gold"})
        twice = await h.post("/end_user/new", {"user_id": "alice"})
        info = await h.get("/customer/info", end_user_id="alice")
        blocked = await h.post("/customer/block", {"user_ids": ["alice", "carol"]})
        after_block = await h.get("/end_user/list")
        off_plan = await h.post("/customer/update", {"user_id": "alice", "budget_id": None})
        unblocked = await h.post("/end_user/unblock", {"user_ids": ["alice"]})
        deleted = await h.post("/customer/delete", {"user_ids": ["carol"]})
        missing = await h.get("/customer/info", end_user_id="carol")
        return [made, unknown_plan, twice, info, blocked, after_block, off_plan, unblocked, deleted, missing]

    results = backend.run(scenario, plans=CONFIGURED)
    made, unknown_plan, twice, info, blocked, after_block, off_plan, unblocked, deleted, missing = results
    assert made.status == 200 and made.body["budget_id"] == "free" and made.body["alias"] == "Alice"
    assert made.body["litellm_budget_table"]["max_tokens_per_period"] == 100_000
    assert unknown_plan.status == 400 and unknown_plan.error["code"] == "budget_not_found"
    assert twice.status == 400 and "already exists" in twice.error["message"]
    assert info.body["user_id"] == "alice" and info.body["blocked"] is False
    assert blocked.body == {"blocked_users": ["alice", "carol"]}
    assert [(u["user_id"], u["blocked"]) for u in after_block.body] == [("alice", True), ("carol", True)]
    assert off_plan.body["budget_id"] is None and off_plan.body["litellm_budget_table"] is None
    assert unblocked.body == {"unblocked_users": ["alice"]}
    assert deleted.body == {"deleted_customers": ["carol"]}
    assert missing.status == 404 and missing.error["code"] == "end_user_not_found"
