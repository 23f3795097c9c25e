"""`bastion keys|teams|users list` and `bastion spend` print tables; `bastion migrate` shows progress."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bastion.store import Database, SpendLogRecord, UserRecord

BASTION = str(Path(sys.executable).with_name("bastion"))


def run(config: Path, *args: str) -> str:
    done = subprocess.run(
        [BASTION, *args, "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(text: str) -> list[list[str]]:
    """The table's lines split on runs of two or more spaces (cells hold single spaces at most)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_migrate_shows_each_migration_then_nothing_to_do(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text("model_list:\n  - model_name: m\n    litellm_params: {model: mock/echo}\n")
    first = run(config, "migrate").splitlines()
    applying = [line for line in first if line.startswith("applying migration")]
    total = len(applying)
    assert total >= 4 and applying[0].startswith(f"applying migration 1/{total}: 0001")
    assert applying[-1].startswith(f"applying migration {total}/{total}:")
    assert f"{total} migrations applied" in first[-1]
    assert "nothing to apply" in run(config, "migrate")


def test_lists_and_spend_tables(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    litellm_params: {model: mock/echo}\n"
        "general_settings:\n  master_key: sk-cli-master-000\n"
    )
    for team in ("org-1", "org-2"):
        run(config, "teams", "create", "--id", team)
    made = [
        json.loads(run(config, "keys", "create", "--team", team, "--alias", alias, "--rpm", "7"))
        for team, alias in (("org-1", "ci-bot"), ("org-2", "web"))
    ]
    keys = rows(run(config, "keys", "list"))
    assert keys[0][:4] == ["key", "alias", "team", "user"] and set(keys[1][0]) == {"-"}
    listed = {row[1]: row for row in keys[2:]}
    assert listed["ci-bot"][0] == made[0]["key_name"] and listed["ci-bot"][2] == "org-1"
    assert listed["web"][6] == "7" and listed["web"][-1] == "active"
    assert [row[1] for row in rows(run(config, "keys", "list", "--team", "org-2"))[2:]] == ["web"]
    output = run(config, "keys", "list")
    assert all(k["key"] not in output and k["token"] not in output for k in made)

    teams = rows(run(config, "teams", "list"))
    assert teams[0][0] == "team" and sorted(r[0] for r in teams[2:]) == ["org-1", "org-2"]

    now = datetime.now(UTC)

    async def seed() -> None:
        db = await Database.open(None, default_path=tmp_path / "bastion.db")
        try:
            await db.users.create(UserRecord("u-1", user_email="ada@example.com", user_role="internal_user"))
            await db.spend.insert_spend_logs(
                [
                    SpendLogRecord(
                        request_id=f"r{n}",
                        api_key=made[n % 2]["token"],
                        start_time=now - timedelta(days=10 if n == 0 else 0),
                        spend=0.25 * (n + 1),
                        team_id=made[n % 2]["team_id"],
                        model_group="m",
                        prompt_tokens=10,
                        completion_tokens=2,
                        total_tokens=12,
                    )
                    for n in range(4)
                ]
            )
        finally:
            await db.close()

    asyncio.run(seed())
    users = rows(run(config, "users", "list"))
    assert users[2][:3] == ["u-1", "ada@example.com", "internal_user"]

    by_team = run(config, "spend", "--by", "team").splitlines()
    assert by_team[0] == "spend by team, all time"
    table = rows("\n".join(by_team[1:]))
    assert table[0] == ["team", "requests", "input tokens", "output tokens", "spend USD"]
    # org-1: n=0,2 (0.25 + 0.75); org-2: n=1,3 (0.50 + 1.00): the largest first.
    assert table[2:] == [
        ["org-2", "2", "20", "4", "1.500000"],
        ["org-1", "2", "20", "4", "1.000000"],
        ["total", "4", "40", "8", "2.500000"],
    ]
    recent = rows("\n".join(run(config, "spend", "--by", "key", "--since", "7d").splitlines()[1:]))
    # The 10-day-old log is left out; keys are named by alias, never by hash.
    assert recent[2:] == [
        ["web", "2", "20", "4", "1.500000"],
        ["ci-bot", "1", "10", "2", "0.750000"],
        ["total", "3", "30", "6", "2.250000"],
    ]
    assert made[0]["token"] not in run(config, "spend", "--by", "key")
