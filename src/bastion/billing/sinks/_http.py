"""One POST to a sink, with network failures and timeouts mapped to :class:`DeliveryError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from bastion.billing.errors import DeliveryError

__all__ = ["Answer", "post", "sink_message"]

#: Statuses after which the same event can never succeed: the event itself is wrong.
_PERMANENT = frozenset({400, 404, 405, 410, 413, 422})
_EXCERPT = 300


class Answer:
    """A sink's HTTP answer: status and parsed JSON body (``{}`` when it is not JSON)."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.raw = body
        try:
            parsed = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            parsed = {}
        self.json: dict[str, Any] = parsed if isinstance(parsed, dict) else {}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def failure(self, sink: str) -> DeliveryError:
        """The error for a non-2xx answer; permanent for statuses that describe the event."""
        return DeliveryError(
            f"{sink} answered {self.status}: {sink_message(self)}", permanent=self.status in _PERMANENT
        )


def sink_message(answer: Answer) -> str:
    """The sink's own error code and message (Autumn: top level; Stripe: under ``error``)."""
    body = answer.json.get("error") if isinstance(answer.json.get("error"), dict) else answer.json
    assert isinstance(body, dict)
    code, message = body.get("code"), body.get("message")
    if code or message:
        return f"{code or 'error'}: {str(message or '')[:_EXCERPT]}"
    return answer.raw[:_EXCERPT].decode("utf-8", "replace") or "(empty body)"


async def post(
    session: aiohttp.ClientSession,
    sink: str,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    json_body: bytes | None = None,
    form: Mapping[str, str] | None = None,
) -> Answer:
    """POST and read the whole answer; a broken connection or a timeout is a retryable failure."""
    data: Any = json_body if json_body is not None else dict(form or {})
    all_headers = dict(headers)
    if json_body is not None:
        all_headers["Content-Type"] = "application/json"
    try:
        async with session.post(
            url, data=data, headers=all_headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            return Answer(response.status, await response.read())
    except TimeoutError as exc:
        raise DeliveryError(f"{sink} did not answer within {timeout:g}s") from exc
    except aiohttp.ClientError as exc:
        # The exception text names the host and the OS error, never the request's headers.
        raise DeliveryError(f"{sink} could not be reached: {type(exc).__name__}: {exc}"[:_EXCERPT]) from exc
