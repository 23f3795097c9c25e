"""Chat for account users: one call through the gateway's pipeline, stored as a conversation.

``POST /v2/llm/chat/completions`` and its ``/stream`` twin send ``messages`` to the model named by
``model_id`` through :class:`~bastion.gateway.pipeline.Pipeline`, the pipeline of every surface
(routing, retries, fallbacks, limits, budgets, spend logs), with the user's own provider keys
where they apply. With a ``conversation_id`` the stored messages of that conversation go first, so
a client sends only the new turn. The new messages and the answer (with its tokens and cost) are
stored once the call succeeded; a failed call stores nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bastion.accounting.records import UsageRecord
from bastion.accounts.catalog import ModelCatalog, model_id
from bastion.accounts.provider_keys import ProviderKeyService
from bastion.domain.errors import BastionError, InvalidRequestError, NotFoundError
from bastion.domain.principal import Principal, ScopeLimits
from bastion.gateway.context import CallContext
from bastion.gateway.pipeline import Pipeline
from bastion.gateway.surfaces import OPENAI, Surface
from bastion.protocols.conversation.wire import ConversationWire, event
from bastion.store import ConversationRecord, Database, MessageRecord, UserRecord
from bastion.store.bounds import findable

__all__ = ["ChatStream", "ChatTurn", "ConversationService"]

_log = logging.getLogger("bastion.accounts")
_ROLES = ("system", "user", "assistant")
_TITLE = 80
_OPTIONS = ("temperature", "max_tokens", "top_p")


@dataclass(slots=True)
class ChatTurn:
    """A validated chat request: the group to call, what to send, what to store."""

    user: UserRecord
    group: str
    #: The stored conversation, or ``None`` until a new one's first answer is stored.
    conversation: ConversationRecord | None
    #: Known before the call, so a stream names its conversation in its first event.
    conversation_id: str
    history: list[dict[str, str]]
    new_messages: list[dict[str, str]]
    options: dict[str, Any]


class ChatStream:
    """The answer as server-sent events: ``start``, ``delta`` (text), then ``done`` or ``error``."""

    def __init__(
        self, events: AsyncIterator[bytes], client_gone: Callable[[], None], keepalive: bytes
    ) -> None:
        self.events = events
        self.client_gone = client_gone
        #: What keeps the stream open while the model is quiet (the wire format's).
        self.keepalive = keepalive


class ConversationService:
    def __init__(
        self,
        database: Database,
        pipeline: Pipeline,
        catalog: ModelCatalog,
        keys: ProviderKeyService,
    ) -> None:
        self._db = database
        self._pipeline = pipeline
        self._catalog = catalog
        self._keys = keys

    # ------------------------------------------------------------------ reading

    async def list_for(self, user: UserRecord, *, page: int, size: int) -> Any:
        return await self._db.conversations.list_for(user.user_id, page=page, size=size)

    async def get_own(self, user: UserRecord, conversation_id: str) -> ConversationRecord:
        """The user's own conversation; 404 for anyone else's (its existence is not revealed)."""
        # An id no row could hold (a NUL, too long) is not looked up: PostgreSQL would refuse it.
        found = await self._db.conversations.get(conversation_id) if findable(conversation_id) else None
        if found is None or found.user_id != user.user_id:
            raise NotFoundError(
                f"There is no conversation '{conversation_id}' of yours.", code="conversation_not_found"
            )
        return found

    async def messages(self, conversation: ConversationRecord) -> list[MessageRecord]:
        return await self._db.conversations.messages(conversation.conversation_id)

    # ------------------------------------------------------------------ chatting

    async def prepare(self, user: UserRecord, body: dict[str, Any]) -> ChatTurn:
        group = self._catalog.resolve(user, body.get("model_id"))
        messages = _messages(body.get("messages"))
        conversation, history = None, []
        conversation_id = body.get("conversation_id")
        if conversation_id is not None:
            if not isinstance(conversation_id, str):
                raise InvalidRequestError("conversation_id must be a string.", param="conversation_id")
            conversation = await self.get_own(user, conversation_id)
            history = [{"role": m.role, "content": m.content} for m in await self.messages(conversation)]
        else:
            conversation_id = str(uuid.uuid4())  # the row is written once an answer came
        options = {name: body[name] for name in _OPTIONS if body.get(name) is not None}
        return ChatTurn(user, group, conversation, conversation_id, history, messages, options)

    async def complete(self, turn: ChatTurn, headers: Any) -> dict[str, Any]:
        ctx, body = await self._start(turn, headers, OPENAI, stream=False)
        try:
            out = await self._pipeline.complete(ctx, body, turn.group)
        except BastionError as err:
            self._pipeline.fail(ctx, err)
            raise
        answer = orjson.loads(out)
        choice = (answer.get("choices") or [{}])[0]
        content = (choice.get("message") or {}).get("content") or ""
        stored = await self._store(turn, ctx.record, content)
        return _turn_result(turn, stored, ctx.record, finish_reason=choice.get("finish_reason"))

    async def stream(self, turn: ChatTurn, headers: Any) -> ChatStream:
        wire = ConversationWire()
        ctx, body = await self._start(turn, headers, wire, stream=True)
        try:
            relay = await self._pipeline.open_stream(ctx, body, turn.group)
        except BastionError as err:
            self._pipeline.fail(ctx, err)
            raise
        return ChatStream(self._events(turn, ctx, wire, relay.run()), relay.client_gone, wire.keepalive)

    async def _events(
        self, turn: ChatTurn, ctx: CallContext, wire: ConversationWire, frames: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        """``start``, the relay's ``delta`` (or ``error``) events, then ``done`` once the answer is
        stored. The relay writes the canonical events through ``wire``, which keeps the answer."""
        yield event(
            {"type": "start", "model_id": model_id(turn.group), "conversation_id": turn.conversation_id}
        )
        async for chunk in frames:
            yield chunk
        answer = wire.answer
        if answer is None or not answer.ended or ctx.record.client_disconnected:
            return  # failed (the error event was sent) or nobody is listening: nothing is stored
        stored = await self._store(turn, ctx.record, answer.text)
        yield event(
            {"type": "done", **_turn_result(turn, stored, ctx.record, finish_reason=answer.finish_reason)}
        )

    async def _start(
        self, turn: ChatTurn, headers: Any, surface: Surface, *, stream: bool
    ) -> tuple[CallContext, dict[str, Any]]:
        user = turn.user
        ctx = self._pipeline.context(
            surface, headers, principal=_principal(user), model_group=turn.group, stream=stream
        )
        ctx.requested_model = turn.group
        ctx.user_keys = await self._keys.user_keys(user.user_id)
        body: dict[str, Any] = {
            "model": turn.group,
            "messages": [*turn.history, *turn.new_messages],
            "stream": stream,
            **turn.options,
        }
        try:  # the user and the model were checked in prepare(); no routing rules on /v2
            await self._pipeline.limit(ctx, body, turn.group)
        except BastionError as err:
            self._pipeline.fail(ctx, err)
            raise
        return ctx, body

    async def _store(self, turn: ChatTurn, record: UsageRecord, content: str) -> MessageRecord:
        conversation = turn.conversation
        if conversation is None:
            first = next((m["content"] for m in turn.new_messages if m["role"] == "user"), "")
            conversation = await self._db.conversations.create(
                ConversationRecord(
                    conversation_id=turn.conversation_id,
                    user_id=turn.user.user_id,
                    model_id=model_id(turn.group),
                    title=first[:_TITLE] or None,
                )
            )
            turn.conversation = conversation
        cid = conversation.conversation_id
        now = datetime.now(UTC)
        rows = [
            MessageRecord(
                str(uuid.uuid4()), cid, m["role"], m["content"], created_at=now + timedelta(microseconds=i)
            )
            for i, m in enumerate(turn.new_messages)
        ]
        answer = MessageRecord(
            str(uuid.uuid4()),
            cid,
            "assistant",
            content,
            input_tokens=record.usage.input_tokens,
            output_tokens=record.usage.output_tokens,
            cost=record.cost_usd,
            request_id=record.request_id,
            created_at=now + timedelta(microseconds=len(rows)),
        )
        await self._db.conversations.add_messages(cid, [*rows, answer])
        return answer


def _principal(user: UserRecord) -> Principal:
    scope = ScopeLimits(
        f"user:{user.user_id}",
        rpm=user.rpm_limit,
        tpm=user.tpm_limit,
        parallel=user.max_parallel_requests,
        max_budget=user.max_budget,
        budget_duration=user.budget_duration,
    )
    limited = scope.limits_rate or scope.max_budget is not None
    return Principal(
        "user",
        f"user-{user.user_id[:8]}",
        "",
        models=frozenset(user.models),
        user_id=user.user_id,
        limits=(scope,) if limited else (),
        end_user=user.user_id,  # people on plans (bastion_settings.plans, /customer/*)
    )


def _messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise InvalidRequestError(
            'Give \'messages\': a non-empty list of {"role", "content"} objects.', param="messages"
        )
    found = []
    for index, item in enumerate(value):
        if (
            not isinstance(item, dict)
            or item.get("role") not in _ROLES
            or not isinstance(item.get("content"), str)
        ):
            raise InvalidRequestError(
                f'messages[{index}] must be {{"role": one of {", ".join(_ROLES)}, "content": text}}.',
                param="messages",
            )
        found.append({"role": item["role"], "content": item["content"]})
    return found


def _turn_result(
    turn: ChatTurn, message: MessageRecord, record: UsageRecord, *, finish_reason: str | None
) -> dict[str, Any]:
    assert turn.conversation is not None
    return {
        "conversation_id": turn.conversation.conversation_id,
        "model_id": model_id(turn.group),
        "model": turn.group,
        "request_id": record.request_id,
        "finish_reason": finish_reason,
        "message": message_view(message),
        "usage": {
            "input_tokens": record.usage.input_tokens,
            "output_tokens": record.usage.output_tokens,
            "total_tokens": record.usage.total_tokens,
            "cost_usd": record.cost_usd,
            "user_key": record.user_key,
        },
    }


def message_view(message: MessageRecord) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "role": message.role,
        "content": message.content,
        "input_tokens": message.input_tokens,
        "output_tokens": message.output_tokens,
        "cost_usd": message.cost,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }
