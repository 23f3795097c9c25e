"""``GET /model/info`` and ``/v1/model/info`` (LiteLLM's API): the configured deployments.

What a deployment looks like is the caller's to decide (``model_info()``, built from the settings
with every credential left out); this module only wraps it as ``{"data": [...]}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.api.asgi import Request
from bastion.domain.principal import Principal

__all__ = ["ModelEndpoints", "ModelInfo"]

ModelInfo = Callable[[], list[dict[str, Any]]]


class ModelEndpoints:
    def __init__(self, model_info: ModelInfo) -> None:
        self._model_info = model_info

    async def info(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /model/info``: ``{"data": model_info()}``."""
        return {"data": self._model_info()}
