"""The cache key of a generation request: a SHA-256 of its canonical form.

Two requests share a key when they would get the same answer: same surface, same model group (the
one routing chose), same body apart from fields that do not change the output (``stream``,
``stream_options``, ``user``, ``metadata``, LiteLLM's ``cache`` controls), and same sharing scope.
Dict keys are sorted at every depth, so ``{"a":1,"b":2}`` and ``{"b":2,"a":1}`` agree; lists keep
their order (message order matters). The scope (``global``, ``team:<id>``, ``key:<hash>``) is part
of what is hashed, so an entry can never answer a caller outside the scope that stored it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

__all__ = ["IGNORED_FIELDS", "cache_key"]

#: Body fields that never change the answer. ``model`` is replaced by the resolved model group.
IGNORED_FIELDS = frozenset({"model", "stream", "stream_options", "user", "metadata", "cache"})

_VERSION = 1


def cache_key(*, namespace: str, surface: str, group: str, scope: str, body: dict[str, Any]) -> str:
    """``<namespace>:cache:<sha256 hex>`` for this request in this scope."""
    kept = {name: value for name, value in body.items() if name not in IGNORED_FIELDS}
    canonical = orjson.dumps(
        {"v": _VERSION, "surface": surface, "group": group, "scope": scope, "body": kept},
        option=orjson.OPT_SORT_KEYS,
    )
    return f"{namespace}:cache:{hashlib.sha256(canonical).hexdigest()}"
