"""The admin dashboard (/ui) from a test: a cookie-keeping urllib client that does not follow redirects."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

__all__ = ["Browser", "Page"]


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    text: str

    @property
    def csrf(self) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.text)
        assert found is not None, self.text[:2000]
        return found.group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """Keeps the dashboard's cookies like a browser would (they are Path=/ui, HttpOnly)."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.extra = headers or {}
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def get(self, path: str) -> Page:
        return self._send(urllib.request.Request(self.base_url + path, headers=self.extra))

    def post(self, path: str, form: dict[str, str]) -> Page:
        data = urllib.parse.urlencode(form).encode()
        headers = {**self.extra, "content-type": "application/x-www-form-urlencoded"}
        return self._send(
            urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
        )

    def log_in(self, **fields: str) -> Page:
        """Open the login page, then send its form with ``fields`` (master_key, or email and password)."""
        form = self.get("/ui/login")
        return self.post("/ui/login", {"csrf_token": form.csrf, "next": "/ui", **fields})

    def _send(self, request: urllib.request.Request) -> Page:
        try:
            with self._opener.open(request, timeout=30) as resp:
                raw, status, headers = resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as err:
            raw, status, headers = err.read(), err.code, err.headers
        return Page(
            status,
            {k.lower(): v for k, v in headers.items()},
            headers.get_all("set-cookie") or [],
            raw.decode("utf-8", "replace"),
        )
