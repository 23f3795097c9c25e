"""``GET /v1/models`` and ``GET /v1/models/{model}`` in OpenAI's shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from bastion.protocols.surface import ListedModel

__all__ = ["encode_model", "encode_models"]

#: A fixed timestamp: groups come from config, they have no creation time of their own.
_CREATED = 1_700_000_000


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "bastion"}


def encode_models(models: Sequence[ListedModel]) -> bytes:
    return orjson.dumps({"object": "list", "data": [_model(m.name) for m in models]})


def encode_model(models: Sequence[ListedModel]) -> bytes:
    """The one model asked for (``models`` holds exactly it)."""
    return orjson.dumps(_model(models[0].name))
