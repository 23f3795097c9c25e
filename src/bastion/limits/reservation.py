"""Budgets of one request: what is asked (:class:`BudgetLimit`), what comes back.

At admission the request's estimated cost is reserved against every budget that covers it (key,
user, team); it passes only if ``spent + reserved + amount <= max_budget`` holds for all of them.
At completion ``settle`` swaps the reservation for the real cost. A burst of concurrent requests
can therefore overspend by at most what the requests in flight cost above their estimates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bastion.limits.admission import scope_label
from bastion.limits.errors import BudgetExceededError

__all__ = [
    "BudgetLimit",
    "BudgetRefusal",
    "BudgetSeed",
    "BudgetState",
    "Reservation",
    "SpendLoader",
]


@dataclass(frozen=True, slots=True)
class BudgetLimit:
    """One scope's budget: ``max_budget`` USD (``None``: track spend, never refuse) per window.

    ``duration`` is LiteLLM's ``budget_duration`` (``"30d"``, ``"1mo"``...); ``None`` means the
    spend never resets.
    """

    scope: str
    max_budget: float | None
    duration: str | None = None


@dataclass(slots=True, eq=False)
class Reservation:
    """Money held for a request in flight; hand it to ``settle`` exactly once (later calls do nothing)."""

    id: str
    budgets: tuple[BudgetLimit, ...]
    amount: float
    settled: bool = False
    #: Per budget, spend plus everything reserved just after this reservation was made (a quota's
    #: tokens used or held): what the answer's headers report as left, at no extra cost.
    committed: tuple[float, ...] = ()

    @classmethod
    def of(cls, reservation_id: str, budgets: Iterable[BudgetLimit], amount: float) -> Reservation:
        """A reservation over each scope once (the first wins): a scope is never charged twice."""
        seen: dict[str, BudgetLimit] = {}
        for budget in budgets:
            seen.setdefault(budget.scope, budget)
        return cls(reservation_id, tuple(seen.values()), amount)

    @property
    def token(self) -> str:
        """The reservation's name in the store; carries the amount so expiry can give it back."""
        return f"{self.id}|{self.amount!r}"


@dataclass(frozen=True, slots=True)
class BudgetRefusal:
    """A request its budget cannot cover; nothing was reserved for it."""

    scope: str
    spent: float
    reserved: float
    limit: float
    amount: float

    @property
    def message(self) -> str:
        """LiteLLM's wording first (clients match on it), then the numbers."""
        who = scope_label(self.scope)
        held = f"; ${self.reserved:.4f} more is held by requests in flight" if self.reserved > 0 else ""
        return (
            f"Budget has been exceeded for {who}! Current cost: ${self.spent:.4f}, "
            f"max budget: ${self.limit:.4f}{held}; this request could cost up to ${self.amount:.4f}."
        )

    def error(self) -> BudgetExceededError:
        return BudgetExceededError(self.message)


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A scope's budget counters now: ``reset_at`` is a Unix time, ``None`` without a window."""

    spent: float
    reserved: float
    reset_at: float | None


@dataclass(frozen=True, slots=True)
class BudgetSeed:
    """A scope's spend as the database knows it (``reset_at``: its ``budget_reset_at``)."""

    spent: float
    reset_at: float | None = None


#: Reads the spend of scopes the store does not know (first use, Redis restarted or evicted them).
#: Scopes missing from the answer start at 0.
SpendLoader = Callable[[Sequence[str]], Awaitable[Mapping[str, BudgetSeed]]]
