"""Calling revocation listeners: each one isolated, so one bug cannot silence the rest."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bastion.limits.backend import RevocationListener

__all__ = ["notify"]

_log = logging.getLogger("bastion.limits")


def notify(listeners: Iterable[RevocationListener], key_hash: str | None) -> None:
    for listener in listeners:
        try:
            listener(key_hash)
        except Exception:  # a broken listener must not stop the others or the subscription
            _log.exception("revocation listener failed")
