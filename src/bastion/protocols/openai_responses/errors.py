"""Errors of the Responses API: the same envelope as chat completions before a stream starts,
and in a stream an ``error`` event followed by ``response.failed`` (see :mod:`.stream`).

The OpenAI SDK picks its exception class from the HTTP status and reads ``body["error"]``, so a
Responses client gets exactly what a chat client gets; :func:`failure_code` names an in-band
failure with the codes OpenAI's ``response.error.code`` uses.
"""

from __future__ import annotations

from bastion.domain.errors import BastionError
from bastion.protocols.openai import errors as openai_errors

__all__ = ["failure_code", "render_error"]

_CODES = {
    "rate_limit": "rate_limit_exceeded",
    "invalid_request": "invalid_prompt",
    "timeout": "server_error",
    "overloaded": "server_error",
}


def render_error(err: BastionError) -> tuple[int, bytes, dict[str, str]]:
    """``(status, body, headers)``: OpenAI's ``{"error": {...}}`` envelope."""
    return openai_errors.render_error(err)


def failure_code(status: int, kind: str) -> str:
    """``response.error.code`` for a failure of ``status`` and Bastion's error ``kind``."""
    if status == 429:
        return "rate_limit_exceeded"
    return _CODES.get(kind, "server_error" if status >= 500 else "invalid_prompt")
