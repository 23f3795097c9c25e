"""``/key/*``: generate, info, update, block, delete, regenerate and list virtual keys (LiteLLM's API).

A key is named by its plaintext (``sk-...``) or its hash; the plaintext is returned once, by
``/key/generate`` and ``/key/regenerate``, and never appears in a message (``sk-...abcd`` does).
Every change ends by announcing the key's hash so the caches of every gateway process drop it:
``on_revoke`` when the key must stop working (deleted, blocked, retired by a regeneration without
grace period), ``on_change`` when it works on with new settings.
"""

from __future__ import annotations

from typing import Any

from bastion.api.asgi import Request
from bastion.api.management._common import Management, key_not_found, token_of
from bastion.api.management._fields import Fields, query_flag, query_int
from bastion.api.management._key_fields import (
    GENERATE_FIELDS,
    actor,
    expiry_change,
    key_changes,
    note_ignored,
)
from bastion.api.management._render import key_info, key_object
from bastion.auth.virtual_keys import KeyMaterial, mint_key
from bastion.domain.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from bastion.domain.principal import Principal
from bastion.limits.durations import parse_duration
from bastion.store import KeyRecord, Page

__all__ = ["KeyEndpoints", "generated"]

_REGENERATE_FIELDS = GENERATE_FIELDS | {"new_key", "grace_period", "new_master_key"}


def generated(material: KeyMaterial, record: KeyRecord) -> dict[str, Any]:
    """LiteLLM's ``GenerateKeyResponse``: the plaintext ``key`` (shown this once), the hash as
    ``token`` (and ``token_id``), then the key's row."""
    return {"key": material.key, "token": record.token, "token_id": record.token, **key_info(record)}


class KeyEndpoints:
    def __init__(self, management: Management) -> None:
        self._m = management

    async def generate(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /key/generate``."""
        body = await self._m.body(request)
        note_ignored("/key/generate", body, GENERATE_FIELDS)
        material, record = await self.create(Fields(body), principal)
        return generated(material, record)

    async def create(self, body: Fields, principal: Principal) -> tuple[KeyMaterial, KeyRecord]:
        """Mint and store a key from the fields of a ``/key/generate`` body."""
        now = self._m.clock()
        changes = key_changes(body, now=now, tz=self._m.budget_tz)
        _, expires = expiry_change(body, now=now)
        await self._check_team(changes.get("team_id"), changes.get("models", ()))
        material = mint_key(body.text("key"))
        who = actor(principal)
        record = KeyRecord(
            material.token, material.key_name, expires=expires, created_by=who, updated_by=who, **changes
        )
        return material, await self._m.db.keys.create(record)

    async def info(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /key/info?key=``: the master key reads any key, a virtual key only its own."""
        value = request.query.get("key", "").strip()
        if principal.is_admin:
            if not value:
                raise InvalidRequestError("Pass ?key=<the key or its hash>.", param="key")
            token = token_of(value)
        else:
            token = token_of(value) if value else principal.key_hash
            if not principal.key_hash or token != principal.key_hash:
                raise _not_yours()
        record = await self._m.db.keys.get(token)
        if record is None:
            raise key_not_found(value or token)
        return {"key": record.token, "info": key_info(record)}

    async def update(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /key/update``: the key by ``key`` (or ``key_alias``), any generate field."""
        body = await self._m.body(request)
        note_ignored("/key/update", body, GENERATE_FIELDS)
        fields = Fields(body)
        record = await self._target(fields)
        updated = await self.change(record, fields, principal, keep_alias=not fields.given("key"))
        return {"key": updated.token, **key_info(updated)}

    async def change(
        self, record: KeyRecord, fields: Fields, principal: Principal, *, keep_alias: bool = False
    ) -> KeyRecord:
        """Apply the ``/key/update`` fields to ``record`` and announce the change (the dashboard too)."""
        changes = await self._changes(fields, record, principal)
        if keep_alias:
            changes.pop("key_alias", None)  # the alias named the key; it is not a new alias
        updated = await self._m.db.keys.update(record.token, changes)
        if updated is None:
            raise key_not_found(record.token)
        await (self._m.revoke if updated.blocked else self._m.changed)([record.token])
        return updated

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
        body = Fields(await self._m.body(request))
        keys, aliases = body.names("keys"), body.names("key_aliases")
        named: list[tuple[str, str]] = []
        if keys:
            named = [(value, token_of(value)) for value in keys]
        elif aliases:
            for alias in aliases:
                record = await self._m.db.keys.get_by_alias(alias)
                if record is not None:
                    named.append((alias, record.token))
        else:
            raise InvalidRequestError("Pass 'keys' (keys or their hashes) or 'key_aliases'.", param="keys")
        deleted = set(await self._m.db.keys.delete([t for _, t in named], deleted_by=actor(principal)))
        if not deleted:
            raise NotFoundError("No keys found: none of the keys passed exist.", param="keys")
        await self._m.revoke(sorted(deleted))
        return {"deleted_keys": [value for value, token in named if token in deleted]}

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
        record = await self._m.key(value)
        material, updated = await self.rotate(record, fields, principal)
        return generated(material, updated)

    async def rotate(
        self, record: KeyRecord, fields: Fields, principal: Principal
    ) -> tuple[KeyMaterial, KeyRecord]:
        """A new value for ``record`` (``/key/regenerate``, the dashboard); the old one stops
        working at once, or after ``grace_period``. Other generate fields update the key too."""
        changes = await self._changes(fields, record, principal)
        grace = fields.duration("grace_period")
        grace_until = None if grace is None else parse_duration(grace).after(self._m.clock())
        material = mint_key(_new_key(fields))
        updated = await self._m.db.keys.regenerate(
            record.token,
            new_token=material.token,
            new_key_name=material.key_name,
            grace_until=grace_until,
            changes=changes,
        )
        if updated is None:
            raise key_not_found(record.token)
        # Within a grace period the old value still works (and now resolves to the new row).
        await (self._m.revoke if grace_until is None else self._m.changed)([record.token])
        return material, updated

    async def list_keys(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /key/list``: hashes, or rows with ``return_full_object=true``; newest first."""
        page = query_int(request, "page", 1, low=1, high=1_000_000)
        size = query_int(request, "size", 10, low=1, high=100)
        query = request.query
        key_hash = query.get("key_hash", "").strip()
        found: Page[KeyRecord]
        if key_hash:
            record = await self._m.db.keys.get(token_of(key_hash))
            items = (record,) if record is not None and page == 1 else ()
            found = Page(items, 0 if record is None else 1, page, size)
        else:
            found = await self._m.db.keys.list_keys(
                user_id=query.get("user_id") or None,
                team_id=query.get("team_id") or None,
                key_alias=query.get("key_alias") or None,
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
        fields = Fields(await self._m.body(request))
        record = await self._target(fields)
        return key_object(await self.set_blocked(record, principal, blocked=blocked))

    async def set_blocked(self, record: KeyRecord, principal: Principal, *, blocked: bool) -> KeyRecord:
        """Block or unblock ``record`` and announce it (``/key/block``, ``/key/unblock``, the dashboard)."""
        updated = await self._m.db.keys.update(
            record.token, {"blocked": blocked, "updated_by": actor(principal)}
        )
        if updated is None:
            raise key_not_found(record.token)
        await (self._m.revoke if blocked else self._m.changed)([record.token])
        return updated

    async def remove(self, record: KeyRecord, principal: Principal) -> None:
        """Delete ``record`` and announce it: it stops working everywhere."""
        deleted = await self._m.db.keys.delete([record.token], deleted_by=actor(principal))
        if not deleted:
            raise key_not_found(record.token)
        await self._m.revoke(deleted)

    async def _changes(self, fields: Fields, record: KeyRecord, principal: Principal) -> dict[str, Any]:
        """The columns an update-style body changes on ``record``, checked against its team."""
        now = self._m.clock()
        changes = key_changes(fields, now=now, tz=self._m.budget_tz)
        sent, expires = expiry_change(fields, now=now)
        if sent:
            changes["expires"] = expires
        if "team_id" in changes or "models" in changes:
            team_id = changes.get("team_id", record.team_id)
            await self._check_team(team_id, changes.get("models", record.models))
        changes["updated_by"] = actor(principal)
        return changes

    async def _target(self, fields: Fields) -> KeyRecord:
        value = fields.text("key")
        if value is not None:
            return await self._m.key(value)
        alias = fields.text("key_alias")
        if alias is not None:
            return await self._m.key_by_alias(alias)
        raise InvalidRequestError("Pass 'key' (the key or its hash) or 'key_alias'.", param="key")

    async def _check_team(self, team_id: str | None, models: tuple[str, ...]) -> None:
        """The team must exist (LiteLLM refuses keys of unknown teams) and allow the key's models."""
        if team_id is None:
            return
        team = await self._m.db.teams.get(team_id)
        if team is None:
            raise InvalidRequestError(
                f"Team '{team_id}' does not exist. Create it first with POST /team/new.",
                param="team_id",
                code="team_not_found",
            )
        outside = [model for model in models if team.models and model not in team.models]
        if outside:
            raise InvalidRequestError(
                f"Team '{team_id}' may only use {', '.join(team.models)}; not allowed: {', '.join(outside)}.",
                param="models",
            )


def _new_key(fields: Fields) -> str | None:
    new_key = fields.text("new_key")
    if new_key is not None and not new_key.startswith("sk-"):
        raise InvalidRequestError(
            "new_key must start with 'sk-' (so a key can never be mistaken for a hash).", param="new_key"
        )
    return new_key


def _not_yours() -> PermissionDeniedError:
    return PermissionDeniedError(
        "A virtual key may only read its own info. Use the master key to read other keys.",
        code="not_your_key",
    )
