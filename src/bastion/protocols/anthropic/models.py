"""``GET /v1/models`` in Anthropic's shape (what its SDK reads when it sends ``anthropic-version``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from bastion.protocols.surface import ListedModel

__all__ = ["claims", "encode_models"]

#: A fixed time: groups come from config, they have no creation time of their own.
_CREATED_AT = "2023-11-14T22:13:20Z"


def claims(headers: Mapping[str, str]) -> bool:
    """Whether the request comes from an Anthropic client (its SDK always sends the version)."""
    return "anthropic-version" in headers


def encode_models(models: Sequence[ListedModel]) -> bytes:
    names = [m.name for m in models]
    data = [{"type": "model", "id": n, "display_name": n, "created_at": _CREATED_AT} for n in names]
    return orjson.dumps(
        {
            "data": data,
            "has_more": False,
            "first_id": names[0] if names else None,
            "last_id": names[-1] if names else None,
        }
    )
