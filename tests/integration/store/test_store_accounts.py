"""Account rows on both backends: login lookup, sealed provider keys, conversations, daily usage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest
from store_backends import Backend

from bastion.accounts.catalog import ModelCatalog
from bastion.accounts.conversations import ConversationService
from bastion.accounts.provider_keys import ProviderKeyService
from bastion.domain.errors import NotFoundError
from bastion.gateway.pipeline import Pipeline
from bastion.store import (
    AlreadyExistsError,
    ConversationRecord,
    Database,
    MessageRecord,
    SealedKeyRecord,
    SpendFilter,
    SpendLogRecord,
    UserRecord,
)


def test_login_email_is_unique_among_accounts_only(backend: Backend) -> None:
    """Two LiteLLM users may share an email; two accounts (with passwords) may not."""

    async def scenario(db: Database) -> None:
        await db.users.create(UserRecord("litellm-1", user_email="a@example.com"))
        await db.users.create(UserRecord("litellm-2", user_email="a@example.com"))
        await db.users.create(UserRecord("acct-1", user_email="a@example.com", password_hash="h1"))
        with pytest.raises(AlreadyExistsError):
            await db.users.create(UserRecord("acct-2", user_email="a@example.com", password_hash="h2"))
        await db.users.create(UserRecord("acct-3", user_email="b@example.com", password_hash="h3"))
        with pytest.raises(AlreadyExistsError) as clash:
            await db.users.update("acct-3", {"user_email": "a@example.com"})
        assert clash.value.status == 400 and clash.value.param == "user_email"
        found = await db.users.get_by_login(" A@Example.com ")
        assert found is not None and found.user_id == "acct-1" and found.is_active and not found.is_superuser
        assert (await db.users.list_accounts()).total_count == 2

    backend.run(scenario)


def test_provider_keys_put_replace_delete_and_compare_and_set(backend: Backend) -> None:
    async def scenario(db: Database) -> None:
        await db.users.create(UserRecord("u1", password_hash="h"))
        keys = db.provider_keys
        await keys.put(SealedKeyRecord("u1", "anthropic", "v1.k.a.b", "sk-ant-...1111"))
        await keys.put(SealedKeyRecord("u1", "anthropic", "v1.k.c.d", "sk-ant-...2222"))
        await keys.put(SealedKeyRecord("u1", "openai", "v1.k.e.f", "sk-...3333"))
        await keys.put(SealedKeyRecord(None, "openai", "v1.k.g.h", "sk-...4444", updated_by="admin"))
        mine = await keys.list_for("u1")
        assert [(k.provider, k.ciphertext, k.masked) for k in mine] == [
            ("anthropic", "v1.k.c.d", "sk-ant-...2222"),
            ("openai", "v1.k.e.f", "sk-...3333"),
        ]
        (system,) = await keys.list_for(None)
        assert system.owner is None and system.updated_by == "admin"
        everything = [k async for k in keys.all_sealed()]
        assert [(k.owner, k.provider) for k in everything] == [
            (None, "openai"),
            ("u1", "anthropic"),
            ("u1", "openai"),
        ]
        # Compare-and-set: a stale ciphertext is not replaced.
        assert await keys.replace_ciphertext(mine[0], "v1.k.new.one")
        assert not await keys.replace_ciphertext(mine[0], "v1.k.new.two")
        assert await keys.delete("u1", "openai") == ["openai"]
        assert await keys.delete("u1") == ["anthropic"]
        assert await keys.list_for("u1") == []
        assert await keys.delete(None, "openai") == ["openai"]

    backend.run(scenario)


def test_deleting_a_user_deletes_their_keys_and_conversations(backend: Backend) -> None:
    async def scenario(db: Database) -> None:
        await db.users.create(UserRecord("u1", password_hash="h"))
        await db.provider_keys.put(SealedKeyRecord("u1", "google", "v1.k.a.b", "AIza...1111"))
        await db.conversations.create(ConversationRecord("c1", "u1", "m"))
        await db.conversations.add_messages("c1", [MessageRecord("m1", "c1", "user", "hi")])
        await db.users.delete("u1")
        assert await db.provider_keys.list_for("u1") == []
        assert await db.conversations.get("c1") is None
        assert await db.conversations.messages("c1") == []

    backend.run(scenario)


def test_conversations_list_newest_first_and_keep_message_order(backend: Backend) -> None:
    async def scenario(db: Database) -> None:
        await db.users.create(UserRecord("u1", password_hash="h"))
        await db.conversations.create(ConversationRecord("c1", "u1", "m", title="one"))
        await db.conversations.create(ConversationRecord("c2", "u1", "m", title="two"))
        batch = [
            MessageRecord(f"id-{9 - i}", "c1", "user" if i % 2 == 0 else "assistant", f"text {i}")
            for i in range(6)
        ]
        await db.conversations.add_messages(
            "c1", [*batch[:-1], MessageRecord("id-z", "c1", "assistant", "last", 3, 4, 0.25, "req_1")]
        )
        page = await db.conversations.list_for("u1")
        assert [c.conversation_id for c in page.items] == ["c1", "c2"] and page.total_count == 2
        messages = await db.conversations.messages("c1")
        assert [m.content for m in messages] == [*(f"text {i}" for i in range(5)), "last"]
        assert (messages[-1].input_tokens, messages[-1].output_tokens, messages[-1].cost) == (3, 4, 0.25)
        assert (await db.conversations.list_for("someone-else")).total_count == 0

    backend.run(scenario)


def test_a_conversation_id_no_row_can_hold_is_not_found_on_both_backends(backend: Backend) -> None:
    """GET /v2/llm/conversations/{id} (and chat's conversation_id) with a NUL in the id: a 404 on
    SQLite and on PostgreSQL, which refuses NUL in a query parameter (the fuzz found the 500)."""

    async def scenario(db: Database) -> None:
        user = UserRecord("u1", password_hash="h")
        await db.users.create(user)
        await db.conversations.create(ConversationRecord("c1", "u1", "m"))
        service = ConversationService(
            db, cast(Pipeline, None), cast(ModelCatalog, None), cast(ProviderKeyService, None)
        )
        assert (await service.get_own(user, "c1")).conversation_id == "c1"
        for hostile in ("\x00", "c1\x00", "x" * 5000):
            with pytest.raises(NotFoundError):
                await service.get_own(user, hostile)

    backend.run(scenario)


def test_daily_usage_per_day_user_and_model(backend: Backend) -> None:
    def log(rid: str, day: int, user: str, model: str, spend: float, *, own: bool = False) -> SpendLogRecord:
        return SpendLogRecord(
            rid,
            "",
            datetime(2026, 3, day, 23, 30, tzinfo=UTC),
            spend=spend,
            user=user,
            model_group=model,
            prompt_tokens=10,
            completion_tokens=5,
            total_tokens=15,
            user_key=own,
        )

    async def scenario(db: Database) -> None:
        await db.spend.insert_spend_logs(
            [
                log("r1", 1, "u1", "claude", 0.5),
                log("r2", 1, "u1", "claude", 0.25, own=True),
                log("r3", 1, "u1", "gpt", 1.0),
                log("r4", 2, "u1", "claude", 2.0),
                log("r5", 2, "u2", "claude", 4.0),
            ]
        )
        rows = await db.spend.daily_usage(SpendFilter(user="u1"))
        assert [(r.day, r.model_group, r.requests, r.total_tokens) for r in rows] == [
            ("2026-03-01", "claude", 2, 30),
            ("2026-03-01", "gpt", 1, 15),
            ("2026-03-02", "claude", 1, 15),
        ]
        assert backend.same_money(rows[0].spend, 0.75) and backend.same_money(rows[0].user_key_spend, 0.25)
        since = await db.spend.daily_usage(
            SpendFilter(start=datetime(2026, 3, 2, tzinfo=UTC), model_group="claude")
        )
        assert [(r.user, r.requests) for r in since] == [("u1", 1), ("u2", 1)]

    backend.run(scenario)
