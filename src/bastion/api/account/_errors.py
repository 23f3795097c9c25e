"""The account API's error body, as the route table renders it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from bastion.api.asgi import Request
from bastion.api.error_formats import ErrorReply
from bastion.domain.errors import AuthenticationError, BastionError

__all__ = ["ACCOUNT_ERRORS"]


@dataclass(frozen=True, slots=True)
class _AccountErrors:
    """``{"detail": message, "code": code}`` (the shape FastAPI apps, where the seeds come from,
    use), with ``WWW-Authenticate: Bearer`` on 401 and ``Retry-After`` on 429 and 503."""

    schema_name: str = "AccountError"
    media_type: str = "application/json"
    schema: Mapping[str, Any] = field(
        default_factory=lambda: {
            "type": "object",
            "properties": {
                "detail": {"type": "string"},
                "code": {"type": "string"},
                "param": {"type": "string"},
            },
            "required": ["detail", "code"],
        }
    )

    def render(self, request: Request, err: BastionError, request_id: str) -> ErrorReply:
        headers: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        if isinstance(err, AuthenticationError):
            headers.append((b"www-authenticate", b"Bearer"))
        if err.retry_after is not None:
            headers.append((b"retry-after", str(max(math.ceil(err.retry_after), 1)).encode()))
        body: dict[str, Any] = {"detail": err.message, "code": err.code or err.kind}
        if err.param:
            body["param"] = err.param
        return ErrorReply(err.status, orjson.dumps(body), headers=tuple(headers))


ACCOUNT_ERRORS = _AccountErrors()
