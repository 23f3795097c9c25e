"""Accounts: create, log in, authenticate access tokens, update and deactivate.

A login that fails (wrong password, unknown email, or an inactive account) always answers with the
same message after the same work, and counts against the login throttle.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from bastion.auth.access_tokens import AccessTokenIssuer, password_stamp
from bastion.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from bastion.domain.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from bastion.domain.secret import Secret
from bastion.limits.login import LoginThrottle
from bastion.store import AlreadyExistsError, Database, Page, UserRecord
from bastion.store.bounds import findable, text_problem

__all__ = ["AccessToken", "AccountService", "check_full_name", "normalize_email"]

_log = logging.getLogger("bastion.accounts")
_BAD_LOGIN = "Incorrect email or password."


def normalize_email(value: Any, *, param: str = "email") -> str:
    if (
        not isinstance(value, str)
        or "@" not in value
        or text_problem(value) is not None
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise InvalidRequestError("Give a valid email address.", param=param)
    return value.strip().lower()


def check_full_name(value: Any, *, param: str = "full_name") -> str | None:
    """A person's name as shown (``None`` clears it): text of at most 255 characters, no NUL."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequestError("full_name must be a string.", param=param)
    problem = text_problem(value)
    if problem is not None:
        raise InvalidRequestError(f"full_name {problem}.", param=param)
    return value


def check_password(value: Any, *, minimum: int = MIN_PASSWORD_LENGTH, param: str = "password") -> str:
    if not isinstance(value, str) or len(value) < minimum:
        raise InvalidRequestError(
            f"The password must be a string of at least {minimum} characters.", param=param
        )
    if len(value) > 1024:
        raise InvalidRequestError("The password is longer than 1024 characters.", param=param)
    return value


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_at: int
    expires_in: int


class AccountService:
    def __init__(
        self,
        database: Database,
        issuer: AccessTokenIssuer,
        throttle: LoginThrottle,
        *,
        min_password_length: int = MIN_PASSWORD_LENGTH,
        sleep: Any = asyncio.sleep,
    ) -> None:
        self._min_password = min_password_length
        self._db = database
        self._issuer = issuer
        self._throttle = throttle
        self._sleep = sleep

    async def ensure_first_superuser(self, email: str, password: Secret) -> None:
        """Create the first superuser unless an account with that email exists (idempotent)."""
        if await self._db.users.get_by_login(email) is not None:
            return
        try:
            await self.create(email=email, password=password.reveal(), is_superuser=True, full_name=None)
        except (AlreadyExistsError, InvalidRequestError):
            # Another process (a --workers sibling) created it at the same moment: that is success.
            if await self._db.users.get_by_login(email) is not None:
                return
            raise
        _log.info("created the first superuser account from FIRST_SUPERUSER")

    async def create(
        self, *, email: Any, password: Any, full_name: Any = None, is_superuser: bool = False
    ) -> UserRecord:
        login = normalize_email(email)
        secret = check_password(password, minimum=self._min_password)
        full_name = check_full_name(full_name)
        if await self._db.users.get_by_login(login) is not None:
            raise _email_taken(login)
        record = UserRecord(
            user_id=str(uuid.uuid4()),
            user_email=login,
            full_name=full_name,
            password_hash=await hash_password(secret),
            is_superuser=is_superuser,
            user_role="proxy_admin" if is_superuser else "internal_user",
        )
        try:
            return await self._db.users.create(record)
        except AlreadyExistsError:
            raise _email_taken(login) from None

    async def log_in(self, email: str, password: str, address: str | None) -> AccessToken:
        await self._throttle.check(email, address)
        user = await self._db.users.get_by_login(email) if "@" in email and findable(email) else None
        ok = await verify_password(password, user.password_hash if user is not None else None)
        if user is None or not ok or not user.is_active:
            delay = await self._throttle.failed(email, address)
            if delay > 0:
                await self._sleep(delay)
            raise AuthenticationError(_BAD_LOGIN, code="invalid_credentials")
        await self._throttle.succeeded(email)
        token, expires = self._issuer.issue(user.user_id, user.password_hash)
        return AccessToken(token, expires, self._issuer.lifetime_seconds)

    async def authenticate(self, token: str | None) -> UserRecord:
        """The active account a bearer token belongs to; 401 saying why otherwise."""
        if not token:
            raise AuthenticationError(
                "Log in first: send 'Authorization: Bearer <access_token>' from POST /v2/login/access-token.",
                code="not_authenticated",
            )
        claims = self._issuer.verify(token)
        user = await self._db.users.get(claims.user_id)
        if user is None or user.password_hash is None:
            raise AuthenticationError("The account of this token no longer exists.", code="invalid_token")
        if not user.is_active:
            raise AuthenticationError("This account is deactivated.", code="inactive_user")
        if password_stamp(user.password_hash) != claims.password_stamp:
            raise AuthenticationError(
                "The password changed since this token was issued; log in again.", code="token_revoked"
            )
        return user

    async def get(self, user_id: str) -> UserRecord:
        user = await self.find(user_id)
        if user is None:
            raise NotFoundError(f"There is no account with id '{user_id}'.", code="user_not_found")
        return user

    async def find(self, user_id: str) -> UserRecord | None:
        """The account (a user who logs in) with this id, or ``None``."""
        user = await self._db.users.get(user_id) if findable(user_id) else None
        return None if user is None or user.password_hash is None else user

    async def list(self, *, page: int, size: int) -> Page[UserRecord]:
        return await self._db.users.list_accounts(page=page, size=size)

    async def update(self, actor: UserRecord, user_id: str, body: dict[str, Any]) -> UserRecord:
        """Superuser changes: email, full_name, password, is_active, is_superuser."""
        user = await self.get(user_id)
        changes: dict[str, Any] = {}
        if "email" in body:
            login = normalize_email(body["email"])
            other = await self._db.users.get_by_login(login)
            if other is not None and other.user_id != user_id:
                raise _email_taken(login)
            changes["user_email"] = login
        if "full_name" in body:
            changes["full_name"] = check_full_name(body["full_name"])
        if "password" in body:
            password = check_password(body["password"], minimum=self._min_password)
            changes["password_hash"] = await hash_password(password)
        for flag in ("is_active", "is_superuser"):
            if flag in body:
                if not isinstance(body[flag], bool):
                    raise InvalidRequestError(f"{flag} must be true or false.", param=flag)
                if user_id == actor.user_id and body[flag] is False:
                    raise PermissionDeniedError(
                        f"You cannot set your own {flag} to false; ask another superuser.",
                        code="cannot_demote_self",
                    )
                changes[flag] = body[flag]
        if "is_superuser" in changes:
            changes["user_role"] = "proxy_admin" if changes["is_superuser"] else "internal_user"
        if not changes:
            return user
        try:
            updated = await self._db.users.update(user_id, changes)
        except AlreadyExistsError:
            raise _email_taken(changes.get("user_email", "")) from None
        if updated is None:
            raise NotFoundError(f"There is no account with id '{user_id}'.", code="user_not_found")
        return updated

    async def change_own_password(self, user: UserRecord, current: Any, new: Any) -> None:
        if not isinstance(current, str) or not await verify_password(current, user.password_hash):
            raise InvalidRequestError("The current password is not correct.", param="current_password")
        password = check_password(new, minimum=self._min_password, param="new_password")
        await self._db.users.update(user.user_id, {"password_hash": await hash_password(password)})

    async def close(self) -> None:
        await self._throttle.close()


def _email_taken(email: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"An account with email '{email}' already exists.", param="email", code="email_taken"
    )
