"""The errors billing adds to Bastion's error tree, and the one delivery failure of the sinks."""

from __future__ import annotations

from bastion.domain.errors import BastionError

__all__ = ["BillingUnavailableError", "DeliveryError", "OutOfCreditError"]


class OutOfCreditError(BastionError):
    """The org has no credit left: 402, rendered in the caller's own API format."""

    status = 402
    kind = "billing"

    def __init__(self, team_id: str) -> None:
        super().__init__(
            f"Your organization ({team_id}) is out of credit for this gateway. "
            "Add credit or upgrade your plan with your billing provider, then try again.",
            code="out_of_credit",
        )


class BillingUnavailableError(BastionError):
    """The billing provider could not say whether the org has credit (and ``fail_open`` is off)."""

    status = 503
    kind = "overloaded"
    retryable = True

    def __init__(self) -> None:
        super().__init__(
            "The gateway could not check your organization's credit with its billing provider; "
            "try again shortly.",
            code="billing_unavailable",
        )


class DeliveryError(Exception):
    """A sink did not confirm an event. ``permanent``: retrying the same event cannot succeed.

    The message names the sink's answer (status, its error code and message) and never a credential.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
