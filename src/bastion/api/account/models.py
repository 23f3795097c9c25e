"""``GET /v2/llm-models/?is_active=true``: the models this user can call now, with prices."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bastion.accounts.records import UserRecord
from bastion.api.account._room import Room
from bastion.api.asgi import Request
from bastion.domain.errors import InvalidRequestError

__all__ = ["ModelEndpoints"]


class ModelEndpoints:
    def __init__(self, room: Room) -> None:
        self._room = room

    async def list_models(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        wanted = request.query.get("is_active")
        if wanted not in (None, "", "true", "false"):
            raise InvalidRequestError("is_active must be true or false.", param="is_active")
        keys = await self._room.s.keys.user_keys(user.user_id)
        models = self._room.s.catalog.models_for(user, keys)
        if wanted in ("true", "false"):
            models = [m for m in models if m.is_active is (wanted == "true")]
        return 200, {"data": [asdict(m) for m in models], "count": len(models)}
