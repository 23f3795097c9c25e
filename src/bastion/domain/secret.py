"""A wrapper for secrets (provider keys, master keys) whose repr and str never show the value."""

from __future__ import annotations

__all__ = ["Secret"]


class Secret:
    """Holds a secret string. ``reveal()`` is the only way to read it; printing shows ``'**********'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)
