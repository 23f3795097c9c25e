"""Accounts as people meet them: the first superuser, login throttling, deactivation, passwords,
and chat with stored conversations (plain and streamed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support.accounts import SUPERUSER, SUPERUSER_PASSWORD, V2, accounts_config

PASSWORD = "user-password-123"


def test_first_superuser_is_created_once(
    write_config: Callable[[dict[str, Any]], Any], upstream: Any
) -> None:
    """Restarting (even with another FIRST_SUPERUSER_PASSWORD) neither duplicates nor resets it."""
    config = accounts_config(upstream.url)
    with RunningGateway(write_config(config)) as gw:
        me = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD).call("GET", "/v2/users/me").body
        assert me["is_superuser"] is True and me["email"] == SUPERUSER
    config["environment_variables"]["FIRST_SUPERUSER_PASSWORD"] = "another-password-456"
    with RunningGateway(write_config(config)) as gw:
        admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
        listed = admin.call("GET", "/v2/users").body
        assert listed["count"] == 1 and listed["data"][0]["id"] == me["id"]


@pytest.mark.parametrize("backend", ["embedded", "scaled"])
def test_failed_logins_are_refused_for_a_while(
    start_accounts: Callable[..., RunningGateway], backend: str
) -> None:
    """Three failures lock the account (429 + Retry-After) even for the right password; another
    account from the same address still logs in until the address's own allowance is used up."""
    gw = start_accounts(backend, login_max_failures=3, login_lockout_seconds=600)
    client = V2(gw.url)
    form = {"username": SUPERUSER, "password": "wrong-password"}
    for _ in range(3):
        assert client.call("POST", "/v2/login/access-token", form=form).status == 401
    locked = client.call("POST", "/v2/login/access-token", form={**form, "password": SUPERUSER_PASSWORD})
    assert locked.status == 429 and locked.body["code"] == "login_locked"
    assert 590 <= int(locked.headers["retry-after"]) <= 600
    # Case does not dodge the lock.
    upper = {"username": SUPERUSER.upper(), "password": SUPERUSER_PASSWORD}
    assert client.call("POST", "/v2/login/access-token", form=upper).status == 429
    # The address has 4 x 3 = 12 failures before it is locked; 3 are used.
    for n in range(9):
        other = {"username": f"nobody{n}@example.com", "password": "wrong-password"}
        assert client.call("POST", "/v2/login/access-token", form=other).status == 401
    fresh = {"username": "someone@example.com", "password": "wrong-password"}
    assert client.call("POST", "/v2/login/access-token", form=fresh).status == 429


def test_a_successful_login_clears_the_failures(start_accounts: Callable[..., RunningGateway]) -> None:
    gw = start_accounts(login_max_failures=2)
    client = V2(gw.url)
    bad = {"username": SUPERUSER, "password": "wrong-password"}
    assert client.call("POST", "/v2/login/access-token", form=bad).status == 401
    client.login(SUPERUSER, SUPERUSER_PASSWORD)
    assert client.call("POST", "/v2/login/access-token", form=bad).status == 401
    client.login(SUPERUSER, SUPERUSER_PASSWORD)


def test_deactivated_users_and_changed_passwords_end_tokens(
    start_accounts: Callable[..., RunningGateway],
) -> None:
    gw = start_accounts()
    admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    made = admin.call("POST", "/v2/users", json={"email": "u@example.com", "password": PASSWORD}).body
    user = V2(gw.url).as_user("U@Example.com", PASSWORD)  # emails are case-insensitive
    # The password changes: the old token stops working, the new password logs in.
    changed = user.call(
        "PATCH", "/v2/users/me/password", json={"current_password": PASSWORD, "new_password": "new-pass-456"}
    )
    assert changed.status == 200
    assert user.call("GET", "/v2/users/me").body["code"] == "token_revoked"
    user = V2(gw.url).as_user("u@example.com", "new-pass-456")
    # Deactivated: the token is refused and so is the login, with the usual message.
    assert admin.call("DELETE", f"/v2/users/{made['id']}").body["is_active"] is False
    assert user.call("GET", "/v2/users/me").body["code"] == "inactive_user"
    form = {"username": "u@example.com", "password": "new-pass-456"}
    refused = V2(gw.url).call("POST", "/v2/login/access-token", form=form)
    assert refused.status == 401 and refused.body["detail"] == "Incorrect email or password."
    # Reactivated by a superuser; a superuser cannot demote or deactivate themselves.
    admin.call("PATCH", f"/v2/users/{made['id']}", json={"is_active": True})
    V2(gw.url).login("u@example.com", "new-pass-456")
    me = admin.call("GET", "/v2/users/me").body
    assert admin.call("DELETE", f"/v2/users/{me['id']}").status == 403
    # Duplicate emails and short passwords are refused with the field named.
    dup = admin.call("POST", "/v2/users", json={"email": "U@example.com", "password": PASSWORD})
    assert dup.status == 400 and dup.body["param"] == "email"
    short = admin.call("POST", "/v2/users", json={"email": "v@example.com", "password": "short"})
    assert short.status == 400 and short.body["param"] == "password"
    assert admin.call("GET", "/v2/users/not-an-id").status == 404


def test_conversations_keep_history_and_stream(start_accounts: Callable[..., RunningGateway]) -> None:
    gw = start_accounts()
    user = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    first = user.call(
        "POST",
        "/v2/llm/chat/completions",
        json={"model_id": "mock", "messages": [{"role": "user", "content": "First question"}]},
    ).body
    cid = first["conversation_id"]
    # The next turn sends only the new message: the stored history goes first.
    streamed = user.call(
        "POST",
        "/v2/llm/chat/completions/stream",
        json={"model_id": "mock", "conversation_id": cid, "messages": [{"role": "user", "content": "Next"}]},
    )
    assert streamed.status == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    events = [
        orjson.loads(line[6:]) for line in streamed.raw.decode().splitlines() if line.startswith("data: ")
    ]
    assert events[0]["type"] == "start" and events[0]["conversation_id"] == cid
    text = "".join(e["content"] for e in events if e["type"] == "delta")
    done = events[-1]
    assert done["type"] == "done" and done["message"]["content"] == text and text
    assert done["usage"]["input_tokens"] > first["usage"]["input_tokens"]  # the history was sent

    listed = user.call("GET", "/v2/llm/conversations").body
    assert listed["count"] == 1 and listed["data"][0]["title"] == "First question"
    history = user.call("GET", f"/v2/llm/conversations/{cid}").body["messages"]
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "First question"),
        ("assistant", first["message"]["content"]),
        ("user", "Next"),
        ("assistant", text),
    ]
    assert history[3]["output_tokens"] == done["usage"]["output_tokens"]


def test_a_new_streamed_conversation_is_named_from_the_start(
    start_accounts: Callable[..., RunningGateway],
) -> None:
    """A streamed first turn names its conversation in ``start`` (not null), the same id as in
    ``done`` and in the listing, and ``done`` says how the answer ended, as the plain call does."""
    gw = start_accounts()
    user = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    turn = {"model_id": "mock", "messages": [{"role": "user", "content": "Hello there"}]}
    plain = user.call("POST", "/v2/llm/chat/completions", json=turn).body
    streamed = user.call("POST", "/v2/llm/chat/completions/stream", json=turn)
    events = [
        orjson.loads(line[6:]) for line in streamed.raw.decode().splitlines() if line.startswith("data: ")
    ]
    start, done = events[0], events[-1]
    assert start["type"] == "start" and done["type"] == "done"
    assert isinstance(start["conversation_id"], str) and start["conversation_id"]
    assert start["conversation_id"] == done["conversation_id"] != plain["conversation_id"]
    assert done["finish_reason"] == plain["finish_reason"] == "stop"
    listed = {c["id"] for c in user.call("GET", "/v2/llm/conversations").body["data"]}
    assert start["conversation_id"] in listed


def _events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


def test_a_streamed_turn_from_a_real_provider_ends_in_done_or_error(
    start_accounts: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Through an OpenAI upstream: the deltas, then ``done`` with the finish reason and usage; an
    in-band upstream error after two tokens ends the stream with ``error`` and stores nothing."""
    gw = start_accounts()
    user = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    turn = {"model_id": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    ok = _events(user.call("POST", "/v2/llm/chat/completions/stream", json=turn).raw)
    assert [e["type"] for e in ok] == ["start", "delta", "delta", "done"]
    assert "".join(e["content"] for e in ok[1:3]) == ok[-1]["message"]["content"] == "alpha bravo"
    plain = user.call("POST", "/v2/llm/chat/completions", json=turn).body
    assert ok[-1]["finish_reason"] == plain["finish_reason"] is not None
    assert ok[-1]["usage"]["output_tokens"] == plain["usage"]["output_tokens"] > 0
    upstream.script(Fault(error_after=2, message="the model fell over"))
    failed = _events(user.call("POST", "/v2/llm/chat/completions/stream", json={**turn, "max_tokens": 8}).raw)
    assert [e["type"] for e in failed] == ["start", "delta", "delta", "error"]
    assert "the model fell over" in failed[-1]["message"]
    listed = user.call("GET", "/v2/llm/conversations").body
    assert sorted(c["id"] for c in listed["data"]) == sorted(
        [ok[0]["conversation_id"], plain["conversation_id"]]
    )
    assert failed[0]["conversation_id"] != ok[0]["conversation_id"]


def test_chat_errors_are_clear(start_accounts: Callable[..., RunningGateway]) -> None:
    gw = start_accounts()
    user = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    unknown = user.call("POST", "/v2/llm/chat/completions", json={"model_id": "nope", "messages": []})
    assert unknown.status == 404 and unknown.body["param"] == "model_id"
    bad = user.call(
        "POST", "/v2/llm/chat/completions", json={"model_id": "mock", "messages": [{"role": "x"}]}
    )
    assert bad.status == 400 and bad.body["param"] == "messages"
    stream = user.call(
        "POST",
        "/v2/llm/chat/completions/stream",
        json={"model_id": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert stream.status == 400 and stream.body["code"] == "no_provider_key"
