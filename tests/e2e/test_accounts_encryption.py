"""Provider keys at rest: the database never holds one in the clear, and a key rotation
(``bastion rotate-encryption-key``) keeps every stored key readable."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bastion.store.schema import system_provider_keys, user_provider_keys
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support.accounts import ENCRYPTION_KEY, SUPERUSER, SUPERUSER_PASSWORD, V2, accounts_config

BASTION = str(Path(sys.executable).with_name("bastion"))
PASSWORD = "user-password-123"
USER_KEY = "sk-ant-api03-very-secret-user-key-wxyz"
SYSTEM_KEY = "sk-proj-very-secret-system-key-abcd"
NEW_ENCRYPTION_KEY = "a-brand-new-encryption-key-0123456789-abc"


async def _rows(gw: RunningGateway) -> list[dict[str, Any]]:
    assert gw.app is not None and gw.app.database is not None
    async with gw.app.database.engine.connect() as conn:
        found = []
        for table in (user_provider_keys, system_provider_keys):
            found.extend(dict(row._mapping) for row in await conn.execute(sa.select(table)))
        return found


def test_database_never_holds_a_provider_key_in_the_clear(
    account_gateway: RunningGateway, upstream: MockUpstream
) -> None:
    gw = account_gateway
    admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    admin.call("POST", "/v2/users", json={"email": "u@example.com", "password": PASSWORD})
    user = V2(gw.url).as_user("u@example.com", PASSWORD)
    assert user.call("PATCH", "/v2/users/me/api-key", json={"anthropic_api_key": USER_KEY}).status == 200
    assert admin.call("PUT", "/v2/admin/llm-keys/openai", json={"api_key": SYSTEM_KEY}).status == 200
    rows = gw.call(_rows(gw))
    assert {row["masked"] for row in rows} == {"sk-ant-...wxyz", "sk-proj-...abcd"}
    for row in rows:
        text = repr(row)
        assert USER_KEY not in text and SYSTEM_KEY not in text
        assert USER_KEY[8:-4] not in text and SYSTEM_KEY[8:-4] not in text
        assert row["ciphertext"].startswith("v1.")
    # ... and the key still works: it is opened for the call only.
    chat = {"model_id": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
    assert user.call("POST", "/v2/llm/chat/completions", json=chat).status == 200
    assert upstream.requests[-1].headers["x-api-key"] == USER_KEY
    # Neither key shows in any log line.
    logs = gw.log_text()
    assert USER_KEY not in logs and SYSTEM_KEY not in logs


def test_sqlite_file_never_contains_the_key(
    start_accounts: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    gw = start_accounts()
    V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD).call(
        "PATCH", "/v2/users/me/api-key", json={"google_api_key": "AIzaSyVerySecretGoogleKey123456"}
    )
    gw.stop()
    data = b"".join(path.read_bytes() for path in tmp_path.glob("bastion.db*"))
    assert data and b"VerySecretGoogleKey" not in data


def test_rotation_re_encrypts_and_keeps_old_rows_readable(
    write_config: Callable[[dict[str, Any]], Any], upstream: MockUpstream, tmp_path: Path
) -> None:
    """Old key only -> new key first with the old one still configured (old rows readable, new rows
    sealed with the new key) -> the CLI re-encrypts everything -> the new key alone reads it all."""
    config = accounts_config(upstream.url)
    with RunningGateway(write_config(config)) as gw:
        user = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
        user.call("PATCH", "/v2/users/me/api-key", json={"anthropic_api_key": USER_KEY})
        old = {row["provider"]: row["ciphertext"] for row in gw.call(_rows(gw))}

    config["environment_variables"]["ENCRYPTION_KEY"] = NEW_ENCRYPTION_KEY
    config["environment_variables"]["ENCRYPTION_KEYS"] = ENCRYPTION_KEY
    with RunningGateway(write_config(config)) as gw:
        user = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
        chat = {"model_id": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
        assert user.call("POST", "/v2/llm/chat/completions", json=chat).status == 200
        assert upstream.requests[-1].headers["x-api-key"] == USER_KEY
        user.call("PATCH", "/v2/users/me/api-key", json={"openai_api_key": SYSTEM_KEY})
        mixed = {row["provider"]: row["ciphertext"] for row in gw.call(_rows(gw))}
    assert mixed["anthropic"] == old["anthropic"]  # untouched until the rotation runs
    assert mixed["anthropic"].split(".")[1] != mixed["openai"].split(".")[1]  # two key ids

    done = subprocess.run(
        [BASTION, "rotate-encryption-key", "--config", str(tmp_path / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "2/2" in done.stdout
    assert "1 re-encrypted" in done.stdout and "1 already current" in done.stdout
    assert USER_KEY not in done.stdout + done.stderr

    del config["environment_variables"]["ENCRYPTION_KEYS"]
    with RunningGateway(write_config(config)) as gw:
        user = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
        assert user.call("POST", "/v2/llm/chat/completions", json=chat).status == 200
        assert upstream.requests[-1].headers["x-api-key"] == USER_KEY
        rotated = {row["provider"]: row["ciphertext"] for row in gw.call(_rows(gw))}
    assert len({c.split(".")[1] for c in rotated.values()}) == 1
    assert rotated["anthropic"] != old["anthropic"]


def test_a_key_sealed_for_one_user_does_not_open_for_another(
    start_accounts: Callable[..., RunningGateway],
) -> None:
    """The row's owner is bound into the ciphertext: copying it to another user's row fails."""
    gw = start_accounts()
    admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    admin.call("PATCH", "/v2/users/me/api-key", json={"anthropic_api_key": USER_KEY})
    made = admin.call("POST", "/v2/users", json={"email": "u@example.com", "password": PASSWORD}).body

    async def copy() -> None:
        assert gw.app is not None and gw.app.database is not None
        async with gw.app.database.engine.begin() as conn:
            row = (await conn.execute(sa.select(user_provider_keys))).one()._mapping
            await conn.execute(sa.insert(user_provider_keys).values({**row, "user_id": made["id"]}))

    gw.call(copy())
    user = V2(gw.url).as_user("u@example.com", PASSWORD)
    chat = {"model_id": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
    answer = user.call("POST", "/v2/llm/chat/completions", json=chat)
    assert answer.status == 500 and "integrity check" in answer.body["detail"]
