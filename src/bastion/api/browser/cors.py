"""CORS for the token-stream endpoints: an allowlist of exact origins, preflight included.

A request with no ``Origin`` is not from a page (a backend, the Node SDK) and passes; a page on the
gateway's own host passes (same origin); any other origin must be listed. The allowed origin is
echoed back, never ``*`` when credentials are allowed (the settings refuse that combination).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from bastion.settings import BrowserSettings

__all__ = ["CorsPolicy"]

_METHODS = b"POST, OPTIONS"
_HEADERS = frozenset({"authorization", "content-type", "x-api-key", "anthropic-version"})
_EXPOSED = b"retry-after, x-request-id"


class CorsPolicy:
    def __init__(self, settings: BrowserSettings) -> None:
        self._origins = frozenset(settings.cors_origins)
        self._any = "*" in self._origins
        self._credentials = settings.cors_allow_credentials
        self._max_age = str(settings.cors_max_age_seconds).encode()

    def allows(self, headers: Mapping[str, str]) -> bool:
        """Whether the request's origin (if any) may call."""
        origin = headers.get("origin")
        if origin is None:
            return True
        origin = origin.lower()
        if origin in self._origins or self._any:
            return True
        host = headers.get("host")
        return host is not None and urlsplit(origin).netloc == host.lower()

    def response_headers(self, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        """What an allowed request's response carries so the page may read it."""
        origin = headers.get("origin")
        if origin is None:
            return []
        allow = b"*" if self._any and not self._credentials else origin.encode("latin-1")
        out = [
            (b"access-control-allow-origin", allow),
            (b"access-control-expose-headers", _EXPOSED),
            (b"vary", b"Origin"),
        ]
        if self._credentials:
            out.append((b"access-control-allow-credentials", b"true"))
        return out

    def preflight(self, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]] | None:
        """The preflight answer's headers, or ``None`` to refuse it (origin, method or a header)."""
        if headers.get("origin") is None or not self.allows(headers):
            return None
        method = headers.get("access-control-request-method", "POST").upper()
        if method != "POST":
            return None
        asked = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")]
        asked = [h for h in asked if h]
        if any(h not in _HEADERS for h in asked):
            return None
        out = self.response_headers(headers)
        out.extend(
            [
                (b"access-control-allow-methods", _METHODS),
                (b"access-control-allow-headers", ", ".join(asked or sorted(_HEADERS)).encode()),
                (b"access-control-max-age", self._max_age),
            ]
        )
        return out
