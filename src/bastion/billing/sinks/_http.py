"""One POST to a sink on the process's HTTP client, failures and timeouts mapped to :class:`DeliveryError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from bastion import __version__
from bastion.billing.errors import DeliveryError
from bastion.domain.errors import UpstreamConnectionError, UpstreamTimeoutError
from bastion.outbound.http import HttpPool

__all__ = ["Answer", "post", "sink_message"]

#: Statuses after which the same event can never succeed: the event itself is wrong.
_PERMANENT = frozenset({400, 404, 405, 410, 413, 422})
_EXCERPT = 300
#: A sink's answer is a small JSON document; anything bigger is refused (and retried later).
_MAX_ANSWER = 1024 * 1024
_USER_AGENT = f"bastion/{__version__}"


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
    http: HttpPool,
    sink: str,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    json_body: bytes | None = None,
    form: Mapping[str, str] | None = None,
) -> Answer:
    """POST and read the whole answer; a broken connection or a timeout is a retryable failure."""
    all_headers = {"user-agent": _USER_AGENT, **headers}
    if json_body is not None:
        body = json_body
        all_headers["content-type"] = "application/json"
    else:
        body = urlencode(dict(form or {})).encode()
        all_headers["content-type"] = "application/x-www-form-urlencoded"
    try:
        status, _, data = await http.post(url, body, all_headers, timeout=timeout, max_bytes=_MAX_ANSWER)
    except UpstreamTimeoutError as exc:
        raise DeliveryError(f"{sink} did not answer within {timeout:g}s") from exc
    except UpstreamConnectionError as exc:
        # The message names the host and the network error, never the request's headers.
        raise DeliveryError(f"{sink} could not be reached: {exc.message}"[:_EXCERPT]) from exc
    return Answer(status, data)
