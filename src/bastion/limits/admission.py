"""Rate limits of one request: what is asked (:class:`RateLimit`), what comes back.

A request is admitted by every scope that limits it (key, user, team, end user) or by none: an
:class:`Admission` is the ticket that must be released exactly once when the request ends, a
:class:`Refusal` says which limit was hit and when to retry.

Scopes are plain strings named ``<kind>:<id>`` (``key:<hash>``, ``user:<id>``, ``team:<id>``,
``end_user:<id>``); the kind is what the refusal message names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bastion.domain.errors import RateLimitError

__all__ = ["PARALLEL_RETRY_AFTER", "Admission", "LimitKind", "RateLimit", "Refusal", "scope_label"]

LimitKind = Literal["rpm", "tpm", "parallel"]

#: How long to suggest waiting when every parallel slot is taken (a slot frees when a call ends).
PARALLEL_RETRY_AFTER = 1.0


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The limits of one scope; ``None`` means unlimited (``0`` allows nothing)."""

    scope: str
    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None

    @property
    def is_limited(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.parallel is not None


@dataclass(slots=True, eq=False)
class Admission:
    """A request let through; hand it to ``release`` exactly once (later calls do nothing).

    ``tokens`` is what was counted against tpm at admission. ``released`` flips before the store
    is touched, so a second release racing the first is a no-op too.
    """

    id: str
    limits: tuple[RateLimit, ...]
    tokens: int
    released: bool = False
    #: Per limit, the rpm and tpm levels just after this admission was counted (``None``: that
    #: limit is not set): what the rate-limit headers of the answer report, at no extra cost.
    levels: tuple[tuple[float | None, float | None], ...] = ()

    @classmethod
    def of(cls, admission_id: str, limits: Iterable[RateLimit], tokens: int) -> Admission:
        """An admission over the scopes that have a limit, each scope once (the first wins)."""
        seen: dict[str, RateLimit] = {}
        for limit in limits:
            if limit.is_limited:
                seen.setdefault(limit.scope, limit)
        return cls(admission_id, tuple(seen.values()), tokens)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request turned away; nothing was counted for it."""

    scope: str
    kind: LimitKind
    limit: int
    used: int
    #: Seconds until the same request would pass; ``None`` when it never can (a limit of 0).
    retry_after: float | None

    @property
    def message(self) -> str:
        """A friendly sentence for the 429 body, naming the limit but never the key."""
        who = scope_label(self.scope)
        if self.retry_after is None:
            return f"{who.capitalize()} is not allowed any requests ({_NAMES[self.kind]} is 0)."
        if self.kind == "parallel":
            return (
                f"Too many requests at once for {who}: at most {self.limit} may run in parallel. "
                "Please try again when one of them finishes."
            )
        wait = max(math.ceil(self.retry_after), 1)
        unit = _plural(self.limit, "request" if self.kind == "rpm" else "token")
        return (
            f"Rate limit reached for {who}: {self.limit:,} {unit} per minute ({self.used:,} used). "
            f"Please try again in {wait} {_plural(wait, 'second')}."
        )

    def error(self) -> RateLimitError:
        """The 429 to send back."""
        return RateLimitError(self.message, retry_after=self.retry_after)


_NAMES: dict[LimitKind, str] = {"rpm": "rpm_limit", "tpm": "tpm_limit", "parallel": "max_parallel_requests"}


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def scope_label(scope: str) -> str:
    """``"this key"`` for ``"key:..."``: a scope's kind, safe to show (ids and hashes are not)."""
    kind, sep, _ = scope.partition(":")
    return f"this {kind.replace('_', ' ')}" if sep and kind else "this caller"
