"""Budget seeds: the database's spend plus the rows the spend writer has not written yet."""

from __future__ import annotations

import math

from bastion.limits.reservation import BudgetSeed
from bastion.limits.seeds import PlanWindows, _plus

ROWS = [
    {"api_key": "k1", "team_id": "t1", "user": "u1", "spend": 0.25, "start_time": 1000.0},
    {"api_key": "k1", "team_id": "t2", "user": "u2", "spend": 0.5, "start_time": 2000.0},
    {"api_key": "k2", "team_id": "t1", "user": "u1", "spend": math.nan, "start_time": 3000.0},
]


def test_unwritten_rows_count_for_their_owners() -> None:
    """A key, team, user and end user each get the spend of their own rows added."""
    assert _plus("key:k1", BudgetSeed(1.0), ROWS, None).spent == 1.75
    assert _plus("team:t1", BudgetSeed(0.0), ROWS, None).spent == 0.25  # the NaN row counts nothing
    assert _plus("user:u2", BudgetSeed(0.0), ROWS, None).spent == 0.5
    assert _plus("end_user:u1", BudgetSeed(0.0), ROWS, None).spent == 0.25
    assert _plus("key:nobody", BudgetSeed(2.0), ROWS, None).spent == 2.0


def test_rows_before_the_window_do_not_count() -> None:
    """With a budget_duration only rows since the window began are added (as in the database sum)."""
    seed = BudgetSeed(0.1, reset_at=99_999.0)
    assert _plus("key:k1", seed, ROWS, 1500.0) == BudgetSeed(0.6, reset_at=99_999.0)


def test_scopes_of_unknown_kinds_are_left_alone() -> None:
    """A scope kind the rows do not name is returned as it was."""
    seed = BudgetSeed(0.3)
    assert _plus("org:k1", seed, ROWS, None) is seed


def test_unwritten_rows_count_tokens_for_a_plan_quota() -> None:
    """A quota scope adds input and output tokens of its member's rows (a token's user, or a key's
    customer in ``end_user``), without cache reads when the plan says so."""
    rows = [
        {
            "user": "u1",
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "cache_read_tokens": 4,
            "start_time": 1.0,
        },
        {
            "end_user": "c1",
            "prompt_tokens": 7,
            "completion_tokens": 1,
            "cache_read_tokens": 0,
            "start_time": 1.0,
        },
        {"user": "u1", "prompt_tokens": "x", "completion_tokens": math.inf, "start_time": 1.0},
    ]
    assert _plus("quota:end_user:u1", BudgetSeed(100.0), rows, None).spent == 115.0
    assert _plus("quota:customer:c1", BudgetSeed(0.0), rows, None).spent == 8.0
    windows = PlanWindows(quotas={"quota:end_user:u1": ("1mo", False)})
    assert _plus("quota:end_user:u1", BudgetSeed(0.0), rows, None, windows).spent == 11.0
    assert _plus("quota:nobody:u1", BudgetSeed(3.0), rows, None).spent == 3.0


def test_a_key_or_team_plans_budget_and_quota_count_the_keys_or_teams_rows() -> None:
    """``plan:key:<hash>`` adds the key's spend; ``quota:team:<id>`` the team's tokens."""
    assert _plus("plan:key:k1", BudgetSeed(0.0), ROWS, None).spent == 0.75
    rows = [{"team_id": "t1", "prompt_tokens": 3, "completion_tokens": 4, "start_time": 1.0}]
    assert _plus("quota:team:t1", BudgetSeed(1.0), rows, None).spent == 8.0
    assert _plus("plan:nobody:x", BudgetSeed(1.0), ROWS, None).spent == 1.0
