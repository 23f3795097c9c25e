"""The one error tree of Bastion.

Every failure a client can see is a :class:`BastionError`. Each subclass knows its HTTP status and
its *kind*, a surface-neutral name that the renderers in :mod:`bastion.protocols` turn into the
OpenAI, Anthropic or Gemini error envelope. Foreign errors (aiohttp, SQLAlchemy, Redis) are mapped
to these at the boundary with ``raise ... from``.

Messages must be written for a person: say what was wrong and what to do. They must never carry a
provider key or a Bastion key.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BastionError",
    "ConfigError",
    "InternalError",
    "InvalidRequestError",
    "MethodNotAllowedError",
    "ModelNotFoundError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "UnsupportedParameterError",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "kind_for_status",
]


class BastionError(Exception):
    """Root of every error Bastion reports to a client.

    ``kind`` is one of: ``invalid_request``, ``authentication``, ``permission``, ``not_found``,
    ``request_too_large``, ``rate_limit``, ``billing``, ``api_error``, ``overloaded``, ``timeout``.
    """

    status: int = 500
    kind: str = "api_error"
    #: Whether a client retrying the same call could succeed (drives ``x-should-retry``).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code
        self.param = param
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"


class InvalidRequestError(BastionError):
    """The request itself is wrong: bad JSON, a missing field, a bad value."""

    status = 400
    kind = "invalid_request"


class UnsupportedParameterError(InvalidRequestError):
    """A parameter cannot be expressed for the chosen provider and ``drop_params`` is off."""


class AuthenticationError(BastionError):
    """No key, an unknown key, or an expired one."""

    status = 401
    kind = "authentication"


class PermissionDeniedError(BastionError):
    """The key is valid but may not do this."""

    status = 403
    kind = "permission"


class NotFoundError(BastionError):
    """The path or object does not exist."""

    status = 404
    kind = "not_found"


class MethodNotAllowedError(BastionError):
    """The path exists, but not for this HTTP method; ``allowed`` goes in the ``Allow`` header."""

    status = 405
    kind = "invalid_request"

    def __init__(self, message: str, *, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


class ModelNotFoundError(NotFoundError):
    """The requested model group is not configured."""

    def __init__(self, model: str, available: list[str]) -> None:
        shown = ", ".join(available[:50]) or "none"
        more = f" (and {len(available) - 50} more)" if len(available) > 50 else ""
        super().__init__(
            f"Model '{model}' is not configured on this gateway. Available models: {shown}{more}.",
            code="model_not_found",
            param="model",
        )


class RequestTooLargeError(BastionError):
    """The request body is larger than the configured limit."""

    status = 413
    kind = "request_too_large"


class RateLimitError(BastionError):
    """Too many requests; ``retry_after`` says when to try again."""

    status = 429
    kind = "rate_limit"
    retryable = True


class OverloadedError(BastionError):
    """This process is over capacity and refuses new calls; ``retry_after`` says when to retry."""

    status = 503
    kind = "overloaded"
    retryable = True


class InternalError(BastionError):
    """A bug or an unexpected state inside Bastion."""

    status = 500
    kind = "api_error"
    retryable = True


class UpstreamError(BastionError):
    """The provider answered with an error.

    ``status`` is the provider's status; ``kind`` is derived from it. ``provider_message`` keeps the
    provider's own wording, which clients such as Claude Code match on to decide what to do.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, status=status, retry_after=retry_after, code=code, param=param)
        self.kind = kind_for_status(status)
        self.retryable = status in (408, 409, 429) or status >= 500


class UpstreamTimeoutError(BastionError):
    """The provider did not answer in time."""

    status = 504
    kind = "timeout"
    retryable = True


class UpstreamConnectionError(BastionError):
    """The provider could not be reached, or the connection broke."""

    status = 502
    kind = "api_error"
    retryable = True


class ConfigError(Exception):
    """The configuration file is wrong; raised at start-up, never to a client."""


_STATUS_KINDS = {
    400: "invalid_request",
    401: "authentication",
    402: "billing",
    403: "permission",
    404: "not_found",
    408: "timeout",
    413: "request_too_large",
    422: "invalid_request",
    429: "rate_limit",
    503: "overloaded",
    504: "timeout",
    529: "overloaded",
}


def kind_for_status(status: int) -> str:
    """Bastion's error kind for an HTTP status."""
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    return "invalid_request" if 400 <= status < 500 else "api_error"
