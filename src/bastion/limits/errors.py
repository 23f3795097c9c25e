"""The errors the limits layer adds to Bastion's error tree."""

from __future__ import annotations

from bastion.domain.errors import BastionError

__all__ = ["BudgetExceededError", "LimitsUnavailableError", "UnpricedModelError"]


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


class UnpricedModelError(BastionError):
    """A budget covers the call but the model has no price, so the budget could not be kept."""

    status = 400
    kind = "invalid_request"

    def __init__(self, group: str) -> None:
        super().__init__(
            f"Model '{group}' has no price, so the budget of this key, user or team cannot be "
            "enforced on it. An admin can price its deployments with model_info."
            "input_cost_per_token and model_info.output_cost_per_token (0 makes it free), or allow "
            "unpriced models with bastion_settings.allow_unpriced_models_with_budgets.",
            code="model_not_priced",
            param="model",
        )
