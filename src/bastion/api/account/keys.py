"""A user's own provider keys (``/v2/users/me/api-key``) and the system's (``/v2/admin/llm-keys/``).

Keys are only ever shown masked (``sk-ant-...wxyz``).
"""

from __future__ import annotations

from typing import Any

from bastion.accounts.provider_keys import KeyStatus, check_provider
from bastion.accounts.records import UserRecord
from bastion.api.account._room import Room
from bastion.api.asgi import Request

__all__ = ["KeyEndpoints"]


def _status(found: list[KeyStatus]) -> dict[str, Any]:
    return {
        s.provider: {
            "has_key": s.masked is not None,
            "masked_key": s.masked,
            "source": s.source,
            "updated_at": s.updated_at.isoformat() if s.updated_at else None,
        }
        for s in found
    }


class KeyEndpoints:
    def __init__(self, room: Room) -> None:
        self._room = room

    async def status(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        found = await self._room.s.keys.user_status(user.user_id)
        return 200, {"user_keys": self._room.s.user_keys_mode, "providers": _status(found)}

    async def set_keys(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        await self._room.s.keys.set_user_keys(user.user_id, await self._room.body(request))
        return await self.status(request, user, params)

    async def delete_keys(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        provider = request.query.get("provider") or None
        removed = await self._room.s.keys.delete_user_keys(user.user_id, provider)
        found = await self._room.s.keys.user_status(user.user_id)
        return 200, {"removed": removed, "providers": _status(found)}

    async def system_status(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        return 200, {"providers": _status(await self._room.s.keys.system_status())}

    async def set_system(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        provider = check_provider(params["provider"])
        body = await self._room.body(request)
        actor = user.user_email or user.user_id
        await self._room.s.keys.set_system_key(provider, body.get("api_key"), actor=actor)
        return 200, {"providers": _status(await self._room.s.keys.system_status())}

    async def rotate_system(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        provider = check_provider(params["provider"])
        body = await self._room.body(request)
        actor = user.user_email or user.user_id
        previous = await self._room.s.keys.set_system_key(
            provider, body.get("api_key"), actor=actor, must_exist=True
        )
        status = _status(await self._room.s.keys.system_status())
        return 200, {"provider": provider, "previous_masked_key": previous, "providers": status}

    async def remove_system(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        provider = check_provider(params["provider"])
        removed = await self._room.s.keys.remove_system_key(provider)
        return 200, {"removed": removed, "providers": _status(await self._room.s.keys.system_status())}
