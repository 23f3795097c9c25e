"""The errors the limits layer adds to Bastion's error tree."""

from __future__ import annotations

from bastion.domain.errors import BastionError

__all__ = ["BudgetExceededError", "LimitsUnavailableError"]


class BudgetExceededError(BastionError):
    """A key's, user's or team's budget cannot cover the request (LiteLLM's ``budget_exceeded``)."""

    status = 400
    kind = "billing"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="budget_exceeded")


class LimitsUnavailableError(BastionError):
    """The shared limits store (Redis) could not be reached or answered with an error."""

    status = 503
    kind = "overloaded"
    retryable = True
