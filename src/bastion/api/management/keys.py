"""``/key/*``: generate, info, update, block, delete, regenerate and list virtual keys (LiteLLM's API).

A key is named by its plaintext (``sk-...``) or its hash; the plaintext is returned once, by
``/key/generate`` and ``/key/regenerate``, and never appears in a message (``sk-...abcd`` does).
The work (checks, the team's models, announcing changes to every gateway process) is the
:class:`~bastion.administration.keys.KeyService`'s.
"""

from __future__ import annotations

from typing import Any

from bastion.administration import KeyRecord
from bastion.administration.fields import Fields
from bastion.administration.key_fields import GENERATE_FIELDS, note_ignored
from bastion.api.asgi import Request
from bastion.api.management._common import Management, actor
from bastion.api.management._query import query_flag, query_int
from bastion.api.management._render import key_info, key_object
from bastion.auth.virtual_keys import KeyMaterial
from bastion.domain.errors import InvalidRequestError
from bastion.domain.principal import Principal

__all__ = ["KeyEndpoints", "generated"]

_REGENERATE_FIELDS = GENERATE_FIELDS | {"new_key", "grace_period", "new_master_key"}


def generated(material: KeyMaterial, record: KeyRecord) -> dict[str, Any]:
    """LiteLLM's ``GenerateKeyResponse``: the plaintext ``key`` (shown this once), the hash as
    ``token`` (and ``token_id``), then the key's row."""
    return {"key": material.key, "token": record.token, "token_id": record.token, **key_info(record)}


class KeyEndpoints:
    def __init__(self, management: Management) -> None:
        self._m = management
        self._keys = management.admin.keys

    async def generate(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /key/generate``."""
        body = await self._m.body(request)
        note_ignored("/key/generate", body, GENERATE_FIELDS)
        material, record = await self._keys.create(body, actor=actor(principal))
        return generated(material, record)

    async def info(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /key/info?key=``: the master key reads any key, a virtual key only its own."""
        record = await self._keys.info(request.query.get("key", ""), principal)
        return {"key": record.token, "info": key_info(record)}

    async def update(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /key/update``: the key by ``key`` (or ``key_alias``), any generate field."""
        body = await self._m.body(request)
        note_ignored("/key/update", body, GENERATE_FIELDS)
        record = await self._keys.target(body)
        updated = await self._keys.update(
            record, body, actor=actor(principal), keep_alias=not Fields(body).given("key")
        )
        return {"key": updated.token, **key_info(updated)}

    async def block(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /key/block`` ``{"key": ...}``: the key is refused everywhere until unblocked."""
        return await self._set_blocked(request, principal, blocked=True)

    async def unblock(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /key/unblock`` ``{"key": ...}``."""
        return await self._set_blocked(request, principal, blocked=False)

    async def delete(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /key/delete`` ``{"keys": [...]}`` or ``{"key_aliases": [...]}``.

        Answers with the values passed for the keys that were deleted; 404 when none existed.
        """
        fields = Fields(await self._m.body(request))
        deleted = await self._keys.delete(
            fields.names("keys"), fields.names("key_aliases"), actor=actor(principal)
        )
        return {"deleted_keys": deleted}

    async def regenerate(
        self, request: Request, principal: Principal, path_key: str | None = None
    ) -> dict[str, Any]:
        """``POST /key/regenerate`` and ``/key/{key}/regenerate``: a new key value, same key.

        ``grace_period`` (``"24h"``) keeps the old value working that long; without it the old
        value stops working at once. Other generate fields update the key at the same time.
        """
        body = await self._m.body(request, optional=True)
        note_ignored("/key/regenerate", body, _REGENERATE_FIELDS)
        fields = Fields(body)
        if fields.given("new_master_key"):
            raise InvalidRequestError(
                "The master key is set in the config (general_settings.master_key); change it there.",
                param="new_master_key",
            )
        value = fields.text("key") or path_key
        if not value:
            raise InvalidRequestError("Pass the key to regenerate as 'key' or in the path.", param="key")
        record = await self._keys.find(value)
        material, updated = await self._keys.regenerate(record, body, actor=actor(principal))
        return generated(material, updated)

    async def list_keys(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /key/list``: hashes, or rows with ``return_full_object=true``; newest first."""
        page = query_int(request, "page", 1, low=1, high=1_000_000)
        size = query_int(request, "size", 10, low=1, high=100)
        query = request.query
        found = await self._keys.page(
            user_id=query.get("user_id") or None,
            team_id=query.get("team_id") or None,
            key_alias=query.get("key_alias") or None,
            key_hash=query.get("key_hash", "").strip() or None,
            page=page,
            size=size,
        )
        full = query_flag(request, "return_full_object", False)
        return {
            "keys": [key_object(k) if full else k.token for k in found.items],
            "total_count": found.total_count,
            "current_page": page,
            "total_pages": found.total_pages,
        }

    async def _set_blocked(self, request: Request, principal: Principal, *, blocked: bool) -> dict[str, Any]:
        record = await self._keys.target(await self._m.body(request))
        return key_object(await self._keys.set_blocked(record, blocked=blocked, actor=actor(principal)))
