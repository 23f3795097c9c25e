"""Liveness and readiness, with LiteLLM's paths and answers."""

from __future__ import annotations

from typing import Any

from bastion import __version__

__all__ = ["LITELLM_API_VERSION", "liveliness", "readiness"]


def liveliness() -> str:
    return "I'm alive!"


#: The LiteLLM proxy release whose API (config, key API, routes) Bastion follows. LiteLLM's own
#: clients (``litellm.proxy.client``, the ``lite`` CLI) read ``litellm_version`` from readiness.
LITELLM_API_VERSION = "1.97.0"


def readiness(*, ready: bool, database: str, cache: str | None = None) -> dict[str, Any]:
    """LiteLLM's readiness body (``status``, ``db``, ``cache``, ``litellm_version``,
    ``success_callbacks``), plus ``bastion_version``."""
    return {
        "status": "healthy" if ready else "starting",
        "db": database,
        "cache": cache,
        "litellm_version": LITELLM_API_VERSION,
        "success_callbacks": [],
        "use_aiohttp_transport": False,
        "bastion_version": __version__,
    }
