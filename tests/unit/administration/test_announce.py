"""Announcing key changes: this process forgets first, the channel is told, a failure is only logged."""

from __future__ import annotations

import asyncio

import pytest

from bastion.administration import Announcer


def test_each_token_is_forgotten_here_then_announced_and_a_failure_does_not_escape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []

    async def revoke(token: str) -> None:
        events.append(f"revoke {token}")
        if token == "bad":
            raise ConnectionError("redis is down")

    async def change(token: str) -> None:
        events.append(f"change {token}")

    announcer = Announcer(revoke, change, forget=lambda token: events.append(f"forget {token}"))

    async def scenario() -> None:
        await announcer.revoked(["a", "bad", "b"])
        await announcer.changed(["c"])

    asyncio.run(scenario())
    assert events == [
        "forget a",
        "revoke a",
        "forget bad",
        "revoke bad",
        "forget b",
        "revoke b",
        "forget c",
        "change c",
    ]
    assert "could not announce a change of key hash bad..." in caplog.text
