"""Password hashes: argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

Hashing costs tens of milliseconds of CPU by design, so the async callers run it in a thread.
A login for an unknown account still verifies against a dummy hash, so timing does not tell an
attacker which emails have accounts.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["MIN_PASSWORD_LENGTH", "hash_password", "verify_password"]

#: Shorter passwords are refused when set (NIST SP 800-63B asks for at least 8).
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("bastion-dummy-password-for-timing")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (``None``: no account; always False, same cost)."""
    return await asyncio.to_thread(_verify, password, stored)


def _verify(password: str, stored: str | None) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
