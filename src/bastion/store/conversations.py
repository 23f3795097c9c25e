"""Conversations of the account API's chat and their messages, each message with tokens and cost."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio.engine import AsyncEngine

from bastion.store._clock import Clock, utc_now
from bastion.store._mapping import record_from_row, record_values
from bastion.store._transactions import reading, writing
from bastion.store.records import ConversationRecord, MessageRecord, Page
from bastion.store.schema import conversation_messages, conversations

__all__ = ["ConversationRepository"]


class ConversationRepository:
    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def create(self, record: ConversationRecord) -> ConversationRecord:
        now = self._clock()
        stamped = replace(record, created_at=record.created_at or now, updated_at=record.updated_at or now)
        async with writing(self._engine) as conn:
            await conn.execute(insert(conversations).values(record_values(stamped)))
        return stamped

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        query = select(conversations).where(conversations.c.conversation_id == conversation_id)
        async with reading(self._engine) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else record_from_row(ConversationRecord, row)

    async def list_for(self, user_id: str, *, page: int = 1, size: int = 50) -> Page[ConversationRecord]:
        """A user's conversations, most recently active first."""
        where = conversations.c.user_id == user_id
        query = (
            select(conversations)
            .where(where)
            .order_by(conversations.c.updated_at.desc(), conversations.c.conversation_id)
            .limit(size)
            .offset((max(page, 1) - 1) * size)
        )
        count = select(func.count()).select_from(conversations).where(where)
        async with reading(self._engine) as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = (await conn.execute(query)).all()
        return Page(tuple(record_from_row(ConversationRecord, r) for r in rows), total, page, size)

    async def add_messages(self, conversation_id: str, messages: list[MessageRecord]) -> None:
        """Append messages (in order) and mark the conversation active now."""
        if not messages:
            return
        now = self._clock()
        # A microsecond apart: one batch keeps its order when read back.
        rows = [
            record_values(replace(m, created_at=m.created_at or now + timedelta(microseconds=i)))
            for i, m in enumerate(messages)
        ]
        async with writing(self._engine) as conn:
            await conn.execute(insert(conversation_messages), rows)
            await conn.execute(
                update(conversations)
                .where(conversations.c.conversation_id == conversation_id)
                .values(updated_at=now)
            )

    async def messages(self, conversation_id: str) -> list[MessageRecord]:
        """A conversation's messages, oldest first."""
        table = conversation_messages
        query = (
            select(table)
            .where(table.c.conversation_id == conversation_id)
            .order_by(table.c.created_at, table.c.message_id)
        )
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return [record_from_row(MessageRecord, r) for r in rows]
