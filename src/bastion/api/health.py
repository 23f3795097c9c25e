"""Liveness and readiness, with LiteLLM's paths and answers."""

from __future__ import annotations

from typing import Any

from bastion import __version__

__all__ = ["liveliness", "readiness"]


def liveliness() -> str:
    return "I'm alive!"


def readiness(*, ready: bool, database: str) -> dict[str, Any]:
    return {
        "status": "healthy" if ready else "starting",
        "db": database,
        "cache": None,
        "bastion_version": __version__,
    }
