"""Provider keys people bring (``/v2/users/me/api-key``) and the system's (``/v2/admin/llm-keys``).

Keys are sealed with :class:`~bastion.secrets.Vault` before they reach the store and opened only
to make a call; what is shown is the masked form (``sk-ant-...wxyz``). System keys are also held
in memory by :class:`~bastion.gateway.credentials.SystemKeys` for every surface's calls, reloaded
from the database on start-up, on every change made here, and every ``refresh_seconds`` (other
gateway processes' changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.domain.secret import Secret
from bastion.gateway.credentials import ACCOUNT_PROVIDERS, SystemKeys, account_provider
from bastion.secrets import DecryptionError, Vault, mask_key
from bastion.settings import Deployment
from bastion.store import Database, SealedKeyRecord
from bastion.tasks import spawn_service

__all__ = ["KeyStatus", "ProviderKeyService", "RotationReport", "check_provider"]

_log = logging.getLogger("bastion.accounts")
_MAX_KEY_LENGTH = 512


@dataclass(frozen=True, slots=True)
class KeyStatus:
    provider: str
    masked: str | None
    source: str | None  # "user", "database" or "config"
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RotationReport:
    total: int
    reencrypted: int
    current: int
    changed_meanwhile: int


def check_provider(value: str, *, param: str = "provider") -> str:
    if value not in ACCOUNT_PROVIDERS:
        raise InvalidRequestError(
            f"Unknown provider '{value}'; use one of: {', '.join(ACCOUNT_PROVIDERS)}.", param=param
        )
    return value


def _check_key(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{param} must be a non-empty string.", param=param)
    key = value.strip()
    if len(key) > _MAX_KEY_LENGTH or any(c.isspace() or not c.isprintable() for c in key):
        raise InvalidRequestError(
            f"{param} does not look like an API key (spaces, control characters or too long).", param=param
        )
    return key


def _user_context(user_id: str, provider: str) -> str:
    return f"user:{user_id}:{provider}"


def _system_context(provider: str) -> str:
    return f"system:{provider}"


class ProviderKeyService:
    def __init__(
        self,
        database: Database,
        vault: Vault,
        system: SystemKeys,
        deployments: tuple[Deployment, ...],
        *,
        refresh_seconds: float = 15.0,
    ) -> None:
        self._db = database
        self._vault = vault
        self._system = system
        self._deployments = deployments
        self._refresh_seconds = refresh_seconds
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ a user's own keys

    async def user_keys(self, user_id: str) -> dict[str, Secret]:
        """The user's keys, opened, for one call."""
        rows = await self._db.provider_keys.list_for(user_id)
        return {
            row.provider: Secret(self._vault.decrypt(row.ciphertext, _user_context(user_id, row.provider)))
            for row in rows
        }

    async def user_status(self, user_id: str) -> list[KeyStatus]:
        rows = {row.provider: row for row in await self._db.provider_keys.list_for(user_id)}
        return [
            KeyStatus(p, rows[p].masked, "user", rows[p].updated_at)
            if p in rows
            else KeyStatus(p, None, None)
            for p in ACCOUNT_PROVIDERS
        ]

    async def set_user_keys(self, user_id: str, body: Mapping[str, Any]) -> None:
        """``{"anthropic_api_key": "...", ...}``: a string sets, ``null`` or ``""`` removes."""
        known = {f"{p}_api_key": p for p in ACCOUNT_PROVIDERS}
        unknown = sorted(set(body) - set(known))
        if unknown:
            raise InvalidRequestError(
                f"Unknown field(s) {', '.join(unknown)}; send any of: {', '.join(known)}.", param=unknown[0]
            )
        if not body:
            raise InvalidRequestError(f"Send at least one of: {', '.join(known)}.")
        sealed: list[SealedKeyRecord] = []
        removed: list[str] = []
        for field_name, provider in known.items():
            if field_name not in body:
                continue
            value = body[field_name]
            if value is None or value == "":
                removed.append(provider)
                continue
            key = _check_key(value, field_name)
            ciphertext = self._vault.encrypt(key, _user_context(user_id, provider))
            sealed.append(SealedKeyRecord(user_id, provider, ciphertext, mask_key(key)))
        for record in sealed:
            await self._db.provider_keys.put(record)
        for provider in removed:
            await self._db.provider_keys.delete(user_id, provider)

    async def delete_user_keys(self, user_id: str, provider: str | None) -> list[str]:
        if provider is not None:
            check_provider(provider)
        return await self._db.provider_keys.delete(user_id, provider)

    # ------------------------------------------------------------------ system keys

    async def system_status(self) -> list[KeyStatus]:
        rows = {row.provider: row for row in await self._db.provider_keys.list_for(None)}
        found = []
        for provider in ACCOUNT_PROVIDERS:
            row = rows.get(provider)
            if row is not None:
                found.append(KeyStatus(provider, row.masked, "database", row.updated_at))
                continue
            configured = next(
                (d.api_key for d in self._deployments if account_provider(d) == provider and d.api_key), None
            )
            if configured:
                found.append(KeyStatus(provider, mask_key(configured.reveal()), "config"))
            else:
                found.append(KeyStatus(provider, None, None))
        return found

    async def set_system_key(self, provider: str, value: Any, *, actor: str, must_exist: bool = False) -> str:
        """Store the system key of ``provider``; the previous masked key (rotation), if any."""
        check_provider(provider)
        key = _check_key(value, "api_key")
        previous = {row.provider: row for row in await self._db.provider_keys.list_for(None)}.get(provider)
        if must_exist and previous is None:
            raise NotFoundError(
                f"There is no stored system key for {provider} to rotate; set one with PUT first.",
                code="key_not_found",
            )
        ciphertext = self._vault.encrypt(key, _system_context(provider))
        await self._db.provider_keys.put(
            SealedKeyRecord(None, provider, ciphertext, mask_key(key), updated_by=actor)
        )
        await self.reload_system_keys()
        return previous.masked if previous is not None else ""

    async def remove_system_key(self, provider: str) -> bool:
        check_provider(provider)
        removed = await self._db.provider_keys.delete(None, provider)
        await self.reload_system_keys()
        return bool(removed)

    async def reload_system_keys(self) -> None:
        keys: dict[str, Secret] = {}
        for row in await self._db.provider_keys.list_for(None):
            try:
                keys[row.provider] = Secret(
                    self._vault.decrypt(row.ciphertext, _system_context(row.provider))
                )
            except DecryptionError as err:
                _log.error("system key for %s cannot be used: %s", row.provider, err.message)
        self._system.replace_all(keys)

    def start(self) -> None:
        """Reload the system keys every ``refresh_seconds`` (changes made by other processes)."""
        if self._task is None and self._refresh_seconds > 0:
            self._task = spawn_service(self._refresh(), name="system-keys")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.reload_system_keys()
            except Exception:  # a database outage must not end the loop; the old keys stay
                _log.exception("could not reload the system provider keys")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ------------------------------------------------------------------ rotation

    async def reencrypt_all(self, progress: Callable[[int, int], None] | None = None) -> RotationReport:
        """Re-encrypt every stored key with the newest encryption key; ``progress(done, total)``."""
        records = [record async for record in self._db.provider_keys.all_sealed()]
        total, reencrypted, current, changed = len(records), 0, 0, 0
        for done, record in enumerate(records, start=1):
            if not self._vault.needs_rotation(record.ciphertext):
                current += 1
            else:
                context = (
                    _system_context(record.provider)
                    if record.owner is None
                    else _user_context(record.owner, record.provider)
                )
                fresh = self._vault.encrypt(self._vault.decrypt(record.ciphertext, context), context)
                if await self._db.provider_keys.replace_ciphertext(record, fresh):
                    reencrypted += 1
                else:
                    changed += 1  # replaced or deleted meanwhile: already under the newest key
            if progress is not None:
                progress(done, total)
        return RotationReport(total, reencrypted, current, changed)
