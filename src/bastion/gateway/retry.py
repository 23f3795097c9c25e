"""When to retry an upstream call, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bastion.domain.errors import BastionError, UpstreamConnectionError, UpstreamError, UpstreamTimeoutError

__all__ = ["RetryPolicy", "may_try_elsewhere", "should_retry"]

#: Waiting longer than this for one deployment is worse than moving on to the next.
_MAX_HONOURED_RETRY_AFTER = 60.0


def should_retry(err: BastionError) -> bool:
    """Connection errors, timeouts, 408, 409, 429, 5xx and 529 may succeed on a second try."""
    if isinstance(err, UpstreamConnectionError | UpstreamTimeoutError):
        return True
    if isinstance(err, UpstreamError):
        return err.status in (408, 409, 429) or err.status >= 500
    return False


def may_try_elsewhere(err: BastionError) -> bool:
    """Also move on from a deployment that rejects our credentials or does not know the model."""
    return should_retry(err) or (isinstance(err, UpstreamError) and err.status in (401, 403, 404))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    num_retries: int = 2
    #: Minimum wait before retrying the same deployment (LiteLLM's ``retry_after``).
    min_wait: float = 0.0
    base: float = 0.5
    cap: float = 8.0

    def wait(self, attempt: int, err: BastionError) -> float | None:
        """Seconds to wait before retry ``attempt`` (0-based) of the same deployment; None: don't."""
        hint: float | None = err.retry_after
        if hint is not None:
            if hint > _MAX_HONOURED_RETRY_AFTER:
                return None
            return max(hint, self.min_wait)
        backoff = min(self.base * 2.0**attempt, self.cap) * random.uniform(0.75, 1.0)
        return max(backoff, self.min_wait)
