"""How a provider's error text is shortened before it reaches a client.

A provider may quote the key it was sent; the gateway's scrubber removes a key by its whole value,
so an excerpt must never end inside one. :func:`excerpt` cuts at the last whitespace before the
limit (keys hold none), so a value that straddles the limit is left out whole, not half shown.
"""

from __future__ import annotations

__all__ = ["excerpt"]

_SPACES = (" ", "\n", "\t", "\r")


def excerpt(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start up to the last whitespace that
    leaves room for ``...`` (or as much as fits when there is none), and ``...``."""
    if len(text) <= limit:
        return text
    room = limit - 3
    cut = max(text.rfind(space, 0, room + 1) for space in _SPACES)
    return text[: cut if cut > 0 else room].rstrip() + "..."
