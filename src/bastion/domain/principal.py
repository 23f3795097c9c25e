"""Who is calling."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANONYMOUS", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``kind`` is ``master`` or ``static_key`` (virtual keys and users come later). ``label`` is safe
    to log: a key alias, or the first characters of the key's hash, never the key. ``models`` empty
    means every model.
    """

    kind: str
    label: str
    key_hash: str
    models: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.kind == "master"

    def may_use(self, model_group: str) -> bool:
        return not self.models or model_group in self.models


#: The caller before authentication, and every caller of a gateway configured with no keys at all.
ANONYMOUS = Principal("anonymous", "anonymous", "")
