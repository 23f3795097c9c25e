"""Bastion's own access tokens: HS256 with Bastion's audience and issuer, and nothing else."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from bastion.auth.access_tokens import AccessTokenIssuer, password_stamp
from bastion.auth.passwords import hash_password, verify_password
from bastion.domain.errors import AuthenticationError
from bastion.domain.secret import Secret

SECRET = Secret("x" * 48)


def test_issue_and_verify() -> None:
    issuer = AccessTokenIssuer(SECRET, lifetime_seconds=60)
    token, expires = issuer.issue("user-1", "hash")
    claims = issuer.verify(token)
    assert claims.user_id == "user-1" and claims.password_stamp == password_stamp("hash")
    assert claims.expires_at == expires and expires - time.time() <= 60


def test_secret_may_come_lazily() -> None:
    asked: list[int] = []

    def source() -> Secret:
        asked.append(1)
        return SECRET

    issuer = AccessTokenIssuer(source, lifetime_seconds=60)
    assert asked == []
    issuer.verify(issuer.issue("u", None)[0])
    assert asked == [1]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda: AccessTokenIssuer(SECRET, lifetime_seconds=60).issue("u", None, now=time.time() - 120)[0],
            "token_expired",
        ),
        (
            lambda: AccessTokenIssuer(Secret("y" * 48), lifetime_seconds=60).issue("u", None)[0],
            "invalid_token",
        ),
        (lambda: jwt.encode({"sub": "u", "exp": time.time() + 60}, None, algorithm="none"), "invalid_token"),
        (
            lambda: jwt.encode(
                {
                    "sub": "u",
                    "iat": 1,
                    "exp": time.time() + 60,
                    "iss": "bastion",
                    "aud": "someone-else",
                    "pwd": "x",
                },
                SECRET.reveal(),
            ),
            "invalid_token",
        ),
        (lambda: "not.a.token", "invalid_token"),
    ],
)
def test_refused_tokens(make: object, code: str) -> None:
    issuer = AccessTokenIssuer(SECRET, lifetime_seconds=60)
    with pytest.raises(AuthenticationError) as caught:
        issuer.verify(make())  # type: ignore[operator]
    assert caught.value.code == code


def test_passwords_hash_with_argon2id() -> None:
    async def check() -> None:
        stored = await hash_password("correct horse")
        assert stored.startswith("$argon2id$")
        assert await verify_password("correct horse", stored)
        assert not await verify_password("wrong horse", stored)
        assert not await verify_password("anything", None)

    asyncio.run(check())
