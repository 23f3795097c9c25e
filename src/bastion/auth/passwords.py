"""Password hashes: argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

Hashing costs tens of milliseconds of CPU by design, so the async callers run it in a thread.
A login for an unknown account still verifies against a dummy hash, so timing does not tell an
attacker which emails have accounts.
"""

from __future__ import annotations

import asyncio
import threading
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = ["MIN_PASSWORD_LENGTH", "hash_password", "verify_password"]

#: Shorter passwords are refused when set (NIST SP 800-63B asks for at least 8).
MIN_PASSWORD_LENGTH = 8

#: The dummy hash is computed once, on the first verification (never at import: a gateway that no
#: one logs in to never pays for it, and start-up does not wait tens of milliseconds for it).
_dummy_lock = threading.Lock()
_dummy: str | None = None


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # argon2-cffi loads only where passwords are used

    return PasswordHasher()


def _dummy_hash() -> str:
    global _dummy
    with _dummy_lock:
        if _dummy is None:
            _dummy = _hasher().hash("bastion-dummy-password-for-timing")
        return _dummy


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hash, password)


def _hash(password: str) -> str:
    return _hasher().hash(password)


async def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (``None``: no account; always False, same cost)."""
    return await asyncio.to_thread(_verify, password, stored)


def _verify(password: str, stored: str | None) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
