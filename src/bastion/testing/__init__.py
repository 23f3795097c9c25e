"""Test support that ships with the package: a scriptable mock upstream speaking the providers' protocols.

Names are loaded lazily so that ``python -m bastion.testing.upstream`` does not import its module twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.testing.upstream import Fault, MockUpstream, RecordedRequest

__all__ = ["Fault", "MockUpstream", "RecordedRequest"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bastion.testing import upstream

        return getattr(upstream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
