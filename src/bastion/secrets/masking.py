"""How a stored provider key is shown: its well-known prefix and its last four characters."""

from __future__ import annotations

__all__ = ["mask_key"]

# Longest first: the prefix shown is the longest that matches.
_PREFIXES = ("sk-ant-", "sk-proj-", "sk-or-", "sk-", "AIza")


def mask_key(key: str) -> str:
    """``sk-ant-api03-...wxyz`` becomes ``sk-ant-...wxyz``; a key too short to mask shows ``...``."""
    if len(key) < 12:
        return "..."
    prefix = next((p for p in _PREFIXES if key.startswith(p)), "")
    return f"{prefix}...{key[-4:]}"
