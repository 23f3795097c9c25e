"""Which key a spend row belongs to: its ``api_key``, as LiteLLM writes it, and how it is shown.

A virtual key's rows carry the key's hash (its token, 64 hex digits). Keys that have no row in the
key table are named instead, never by their value or hash: the master key by LiteLLM's fixed alias
``litellm_proxy_master_key``, a static key by its label (its ``alias``, else ``key-`` and the first
hex digits of its hash). Callers without a key (end users of an identity provider's token, an open
gateway) leave it empty.
"""

from __future__ import annotations

import re

from bastion.accounting.records import UsageRecord
from bastion.store.schema import spend_logs

__all__ = ["MASTER_KEY_ALIAS", "holds_virtual_key", "spend_key", "spend_key_name"]

#: What LiteLLM writes as ``api_key`` for master-key traffic, so neither the key nor its hash is stored.
MASTER_KEY_ALIAS = "litellm_proxy_master_key"
#: The ``spend_logs.api_key`` column's width.
_COLUMN: int = spend_logs.c.api_key.type.length  # type: ignore[attr-defined]
_TOKEN = re.compile(r"[0-9a-f]{64}")


def spend_key(rec: UsageRecord) -> str:
    """The ``api_key`` of ``rec``'s spend row."""
    if rec.key_hash:
        return rec.key_hash
    if rec.principal_kind == "master":
        return MASTER_KEY_ALIAS
    if rec.principal_kind == "static_key" and rec.principal_label:
        return rec.principal_label[:_COLUMN]
    return ""


def holds_virtual_key(api_key: str | None) -> bool:
    """Whether a spend row's ``api_key`` is a virtual key's hash (rather than a label, or nothing)."""
    return bool(api_key) and _TOKEN.fullmatch(api_key or "") is not None


def spend_key_name(api_key: str) -> str | None:
    """How a labelled ``api_key`` is shown (``master key``, a static key's label); ``None`` for a hash,
    whose name is the key's alias or masked form in the key table."""
    if holds_virtual_key(api_key) or not api_key:
        return None
    return "master key" if api_key == MASTER_KEY_ALIAS else api_key
