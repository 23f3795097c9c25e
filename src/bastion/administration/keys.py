"""Virtual keys: create, find, update, block, delete, regenerate and list, for every surface.

The management API (``/key/*``), the dashboard's keys page and ``bastion keys`` all call
:class:`KeyService`, so a key is checked (its fields, its team, its models) and announced to every
gateway process the same way whoever made it.

A key is named by its value (``sk-...``) or its hash. After a regeneration with a grace period the
old value still authenticates until the grace ends, so it names the key too: ``info``, ``update``,
``block``, ``unblock`` and ``regenerate`` given the old value act on the key. ``delete`` given the
old value retires that value only (its grace ends now, the key lives on under its new value): the
way to revoke a leaked old value early without taking the new one down.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bastion.administration.announce import Announcer
from bastion.administration.budgets import Budgets
from bastion.administration.fields import Fields, checked_time
from bastion.administration.key_fields import CLEARABLE_SHARED, cleared, expiry_change, key_changes
from bastion.auth.keys import hash_key
from bastion.auth.virtual_keys import KeyMaterial, key_name, mint_key
from bastion.domain.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from bastion.domain.principal import Principal
from bastion.store import Database, KeyRecord, Page
from bastion.store.bounds import findable

__all__ = ["CLEARABLE_KEY_FIELDS", "KeyService", "describe_key", "key_not_found", "token_of"]

#: What clearing a field of a key sets (``duration``: the key never expires; ``models``: all of them).
CLEARABLE_KEY_FIELDS: Mapping[str, Mapping[str, Any]] = {
    **CLEARABLE_SHARED,
    "key_alias": {"key_alias": None},
    "duration": {"expires": None},
}

_PAGE = 500
#: A key's hash: SHA-256 hex.
_HASH_LENGTH = 64
#: The dashboard names a key by this many leading characters of its hash.
REF_LENGTH = 16


def token_of(value: str) -> str:
    """The token (SHA-256 hex) of a key given raw (``sk-...``) or already hashed, as LiteLLM reads it."""
    return hash_key(value) if value.startswith("sk-") else value


def describe_key(value: str) -> str:
    """How a key the caller named appears in a message: ``sk-...abcd`` or the hash's first characters."""
    return key_name(value) if value.startswith("sk-") else f"with hash {value[:12]}..."


def key_not_found(value: str) -> NotFoundError:
    return NotFoundError(f"Key {describe_key(value)} not found.", param="key")


class KeyService:
    def __init__(
        self,
        database: Database,
        announce: Announcer,
        budgets: Budgets,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = database
        self._announce = announce
        self._budgets = budgets
        self._clock = clock

    # ------------------------------------------------------------------ finding keys

    async def find(self, value: str) -> KeyRecord:
        """The key ``value`` names (its value, its hash, or an old value still in its grace period)."""
        record = await self._resolve(token_of(value))
        if record is None:
            raise key_not_found(value)
        return record

    async def find_by_alias(self, alias: str) -> KeyRecord:
        record = await self._db.keys.get_by_alias(alias) if findable(alias) else None
        if record is None:
            raise NotFoundError(f"No key has key_alias '{alias}'.", param="key_alias")
        return record

    async def find_by_ref(self, ref: str) -> KeyRecord:
        """The key named by the first :data:`REF_LENGTH` characters of its hash (the dashboard's way)."""
        ref = ref.strip().lower()
        if len(ref) < REF_LENGTH:
            raise InvalidRequestError(
                f"Name the key by the first {REF_LENGTH} characters of its hash.", param="key"
            )
        found = await self._db.keys.find_by_prefix(ref) if len(ref) <= _HASH_LENGTH else []
        if len(found) != 1:
            raise NotFoundError("No single key has that hash prefix; reload the keys page.", param="key")
        return found[0]

    async def target(self, body: Mapping[str, Any]) -> KeyRecord:
        """The key a body names by ``key`` (value or hash) or else ``key_alias``."""
        fields = Fields(body)
        value = fields.text("key")
        if value is not None:
            return await self.find(value)
        alias = fields.text("key_alias")
        if alias is not None:
            return await self.find_by_alias(alias)
        raise InvalidRequestError("Pass 'key' (the key or its hash) or 'key_alias'.", param="key")

    async def info(self, value: str, principal: Principal) -> KeyRecord:
        """The key ``value`` names: the master key reads any key, a virtual key only its own
        (``value`` empty: its own)."""
        value = value.strip()
        if principal.is_admin:
            if not value:
                raise InvalidRequestError("Pass ?key=<the key or its hash>.", param="key")
            return await self.find(value)
        token = token_of(value) if value else principal.key_hash
        if not principal.key_hash or token != principal.key_hash:
            raise PermissionDeniedError(
                "A virtual key may only read its own info. Use the master key to read other keys.",
                code="not_your_key",
            )
        return await self.find(token)

    async def by_tokens(self, tokens: Sequence[str]) -> dict[str, KeyRecord]:
        """The keys whose hash is one of ``tokens`` (spend logs name keys by hash), for labels."""
        found: dict[str, KeyRecord] = {}
        for token in dict.fromkeys(tokens):
            record = await self._db.keys.get(token) if token and findable(token) else None
            if record is not None:
                found[token] = record
        return found

    async def page(
        self,
        *,
        user_id: str | None = None,
        team_id: str | None = None,
        key_alias: str | None = None,
        key_hash: str | None = None,
        search: str | None = None,
        page: int = 1,
        size: int = 10,
    ) -> Page[KeyRecord]:
        """Keys matching every filter given, newest first; ``key_hash`` (a value or its current
        hash) finds one; ``search``: text in the alias, masked name, team or user, in any case."""
        if key_hash:
            token = token_of(key_hash)
            record = await self._db.keys.get(token) if findable(token, max_length=_HASH_LENGTH) else None
            items = (record,) if record is not None and page == 1 else ()
            return Page(items, 0 if record is None else 1, page, size)
        search = search.strip() if search else None
        if not all(findable(value) for value in (user_id, team_id, key_alias, search) if value is not None):
            return Page((), 0, page, size)
        return await self._db.keys.list_keys(
            user_id=user_id, team_id=team_id, key_alias=key_alias, search=search or None, page=page, size=size
        )

    async def all_of(self, *, team_id: str | None = None, user_id: str | None = None) -> list[KeyRecord]:
        """Every key of a team or a user, read page by page."""
        found: list[KeyRecord] = []
        number = 1
        while True:
            batch = await self._db.keys.list_keys(team_id=team_id, user_id=user_id, page=number, size=_PAGE)
            found.extend(batch.items)
            if len(batch.items) < _PAGE:
                return found
            number += 1

    async def hashes_of(self, *, team_id: str | None = None, user_id: str | None = None) -> list[str]:
        """What authenticates as the keys of a team or a user: each key's hash, and its old values
        still in a regeneration's grace period (everything a change must be announced for)."""
        tokens = sorted(key.token for key in await self.all_of(team_id=team_id, user_id=user_id))
        return [*tokens, *await self._db.keys.graced_tokens(tokens)]

    # ------------------------------------------------------------------ changing keys

    async def create(self, body: Mapping[str, Any], *, actor: str) -> tuple[KeyMaterial, KeyRecord]:
        """Mint and store a key from ``/key/generate`` fields; the value is in the material, once."""
        fields = Fields(body)
        changes = key_changes(fields, self._budgets)
        _, expires = expiry_change(fields, now=self._clock())
        await self.check_team(changes.get("team_id"), changes.get("models", ()))
        material = mint_key(_custom_key(fields, "key"))
        record = KeyRecord(
            material.token, material.key_name, expires=expires, created_by=actor, updated_by=actor, **changes
        )
        return material, await self._db.keys.create(record)

    async def update(
        self,
        record: KeyRecord,
        body: Mapping[str, Any],
        *,
        actor: str,
        keep_alias: bool = False,
        clear: Collection[str] = (),
    ) -> KeyRecord:
        """Apply ``/key/update`` fields to ``record``; ``keep_alias`` when the alias named the key.

        ``clear`` names fields (of :data:`CLEARABLE_KEY_FIELDS`) to empty: no limit, no budget, no
        expiry, every model (in ``body``, a field absent or ``null`` is left unchanged)."""
        emptied = cleared(clear, body, CLEARABLE_KEY_FIELDS)
        changes = {**await self._changes(Fields(body), record, actor), **emptied}
        if keep_alias:
            changes.pop("key_alias", None)  # the alias named the key; it is not a new alias
        hashes = await self._with_old_values(record.token)
        updated = await self._db.keys.update(record.token, changes)
        if updated is None:
            raise key_not_found(record.token)
        await (self._announce.revoked if updated.blocked else self._announce.changed)(hashes)
        return updated

    async def set_blocked(self, record: KeyRecord, *, blocked: bool, actor: str) -> KeyRecord:
        """Block (refused everywhere, old values in their grace period too) or unblock ``record``."""
        hashes = await self._with_old_values(record.token)
        updated = await self._db.keys.update(record.token, {"blocked": blocked, "updated_by": actor})
        if updated is None:
            raise key_not_found(record.token)
        await (self._announce.revoked if blocked else self._announce.changed)(hashes)
        return updated

    async def delete(
        self, values: Sequence[str] | None, aliases: Sequence[str] | None, *, actor: str
    ) -> list[str]:
        """Delete keys named by value or hash (``values``), else by alias; the names that were
        deleted. An old value still in its grace period is retired: it stops working, its key stays.
        404 when none of them existed."""
        named: list[tuple[str, str]] = []
        if values:
            named = [(value, token_of(value)) for value in values]
        elif aliases:
            for alias in aliases:
                record = await self._db.keys.get_by_alias(alias) if findable(alias) else None
                if record is not None:
                    named.append((alias, record.token))
        else:
            raise InvalidRequestError("Pass 'keys' (keys or their hashes) or 'key_aliases'.", param="keys")
        tokens = [token for _, token in named if findable(token, max_length=_HASH_LENGTH)]
        graced = await self._db.keys.graced_tokens(tokens)
        deleted = set(await self._db.keys.delete(tokens, deleted_by=actor))
        retired: set[str] = set()
        for token in tokens:
            if token not in deleted and await self._db.keys.end_grace(token):
                retired.add(token)
        if not deleted and not retired:
            raise NotFoundError("No keys found: none of the keys passed exist.", param="keys")
        await self._announce.revoked(sorted({*deleted, *graced, *retired}))
        return [value for value, token in named if token in deleted or token in retired]

    async def remove(self, record: KeyRecord, *, actor: str) -> None:
        """Delete ``record``; it (and any old value in its grace period) stops working everywhere."""
        hashes = await self._with_old_values(record.token)
        if not await self._db.keys.delete([record.token], deleted_by=actor):
            raise key_not_found(record.token)
        await self._announce.revoked(hashes)

    async def regenerate(
        self, record: KeyRecord, body: Mapping[str, Any], *, actor: str
    ) -> tuple[KeyMaterial, KeyRecord]:
        """A new value for ``record``; the old one stops working at once, or after ``grace_period``.
        Other generate fields update the key at the same time."""
        fields = Fields(body)
        changes = await self._changes(fields, record, actor)
        grace = fields.duration("grace_period")
        now = self._clock()
        grace_until = None if grace is None else checked_time("grace_period", lambda: grace.after(now))
        new_value = _custom_key(fields, "new_key")
        if new_value is not None and not new_value.startswith("sk-"):
            raise InvalidRequestError(
                "new_key must start with 'sk-' (so a key can never be mistaken for a hash).", param="new_key"
            )
        material = mint_key(new_value)
        # Old values of earlier regenerations now lead to the new row: their caches must reload.
        earlier = await self._db.keys.graced_tokens([record.token])
        updated = await self._db.keys.regenerate(
            record.token,
            new_token=material.token,
            new_key_name=material.key_name,
            grace_until=grace_until,
            changes=changes,
        )
        if updated is None:
            raise key_not_found(record.token)
        # Within a grace period the old value still works (and now resolves to the new row).
        await (self._announce.revoked if grace_until is None else self._announce.changed)([record.token])
        await self._announce.changed(earlier)
        return material, updated

    async def check_team(self, team_id: str | None, models: Sequence[str]) -> None:
        """The team must exist (LiteLLM refuses keys of unknown teams) and allow the key's models."""
        if team_id is None:
            return
        team = await self._db.teams.get(team_id) if findable(team_id) else None
        if team is None:
            raise InvalidRequestError(
                f"Team '{team_id}' does not exist; create the team first.",
                param="team_id",
                code="team_not_found",
            )
        outside = [model for model in models if team.models and model not in team.models]
        if outside:
            raise InvalidRequestError(
                f"Team '{team_id}' may only use {', '.join(team.models)}; not allowed: {', '.join(outside)}.",
                param="models",
            )

    async def _changes(self, fields: Fields, record: KeyRecord, actor: str) -> dict[str, Any]:
        """The columns an update-style body changes on ``record``, checked against its team."""
        changes = key_changes(fields, self._budgets)
        sent, expires = expiry_change(fields, now=self._clock())
        if sent:
            changes["expires"] = expires
        if "team_id" in changes or "models" in changes:
            team_id = changes.get("team_id", record.team_id)
            await self.check_team(team_id, changes.get("models", record.models))
        changes["updated_by"] = actor
        return changes

    async def _with_old_values(self, token: str) -> list[str]:
        return [token, *await self._db.keys.graced_tokens([token])]

    async def _resolve(self, token: str) -> KeyRecord | None:
        if not findable(token, max_length=_HASH_LENGTH):
            return None  # no key has it: nothing to ask the database
        return await self._db.keys.resolve(token)


def _custom_key(fields: Fields, name: str) -> str | None:
    """A key value the caller chose: printable, without spaces (it travels in a header)."""
    value = fields.text(name)
    if value is not None and not all(c.isprintable() and not c.isspace() for c in value):
        raise InvalidRequestError(f"{name} must be printable characters without spaces.", param=name)
    return value
