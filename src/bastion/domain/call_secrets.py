"""The secrets of the call being served: keys chosen per call (a user's own provider key, a system
key stored in the database) that the configuration does not list.

Whoever chooses such a key adds it with :func:`add_call_secret`; the boundary scrubber
(:mod:`bastion.secrets.scrubber`) removes it from the call's answer and the log redactor from the
call's log lines. The set lives in a context variable, so it follows the call into the tasks it
starts and needs no threading through.
"""

from __future__ import annotations

import contextvars

__all__ = ["add_call_secret", "begin_call_secrets", "call_secrets"]

_SECRETS: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "bastion_call_secrets", default=None
)
_NONE: frozenset[str] = frozenset()


def begin_call_secrets() -> set[str]:
    """Start an empty set for the call served in this context, and return it."""
    found: set[str] = set()
    _SECRETS.set(found)
    return found


def add_call_secret(value: str | None) -> None:
    """Treat ``value`` as a secret for the rest of this call (nothing outside a call)."""
    found = _SECRETS.get()
    if found is not None and value:
        found.add(value)


def call_secrets() -> set[str] | frozenset[str]:
    """The secrets added in this call so far (empty outside a call)."""
    return _SECRETS.get() or _NONE
