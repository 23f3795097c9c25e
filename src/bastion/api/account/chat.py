"""``POST /v2/llm/chat/completions`` (and ``/stream``), and a user's own conversations."""

from __future__ import annotations

from typing import Any

from bastion.accounts.conversations import message_view
from bastion.accounts.records import ConversationRecord, UserRecord
from bastion.api.account._room import Room, int_query
from bastion.api.asgi import Request, Send, stream_response

__all__ = ["ChatEndpoints"]


def _conversation(found: ConversationRecord) -> dict[str, Any]:
    return {
        "id": found.conversation_id,
        "model_id": found.model_id,
        "title": found.title,
        "created_at": found.created_at.isoformat() if found.created_at else None,
        "updated_at": found.updated_at.isoformat() if found.updated_at else None,
    }


class ChatEndpoints:
    def __init__(self, room: Room) -> None:
        self._room = room

    async def complete(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        service = self._room.s.conversations
        turn = await service.prepare(user, await self._room.body(request))
        return 200, await service.complete(turn, request.headers)

    def streamer(self, send: Send) -> Any:
        async def stream(request: Request, user: UserRecord, params: Any) -> None:
            service = self._room.s.conversations
            turn = await service.prepare(user, await self._room.body(request))
            answer = await service.stream(turn, request.headers)
            await stream_response(
                send,
                request.receive,
                answer.events,
                headers=[],
                on_disconnect=answer.client_gone,
                keepalive=answer.keepalive,
                keepalive_seconds=self._room.s.keepalive_seconds,
            )

        return stream

    async def list_conversations(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        page = int_query(request, "page", 1)
        size = int_query(request, "page_size", 50, high=200)
        found = await self._room.s.conversations.list_for(user, page=page, size=size)
        return 200, {"data": [_conversation(c) for c in found.items], "count": found.total_count}

    async def get_conversation(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        service = self._room.s.conversations
        found = await service.get_own(user, params["conversation_id"])
        messages = await service.messages(found)
        return 200, {**_conversation(found), "messages": [message_view(m) for m in messages]}
