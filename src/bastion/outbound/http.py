"""The process's one outbound HTTP client: providers, billing sinks, the credit check, JWKS.

Connections are kept alive per origin (see :mod:`bastion.outbound._http11`). A kept connection the
server closed in the meantime is detected on use and the call is sent once more on a fresh one,
before any byte of an answer was read. Network failures arrive already mapped to Bastion's error
tree: :class:`~bastion.domain.errors.UpstreamConnectionError` (unreachable, refused TLS, broken
connection, answer too large) and :class:`~bastion.domain.errors.UpstreamTimeoutError`.

HTTPS is verified: the certificate chain against the system's CA store (``SSL_CERT_FILE`` and
``SSL_CERT_DIR`` name others, as for any OpenSSL program) or the given ``tls`` context, the host
name against the certificate, and the host name is sent as SNI. Redirects are followed only by
:meth:`HttpPool.get` when asked to, and never from ``https`` to ``http``; a POST is never
redirected (it may carry credentials and a body meant for the first host only).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from bastion.domain.errors import UpstreamConnectionError, UpstreamTimeoutError
from bastion.outbound._http11 import (
    METHODS,
    AnswerTooLargeError,
    Connection,
    Origin,
    Response,
    checkout,
    connect,
)

__all__ = ["Answer", "HttpPool", "UpstreamStream"]

#: A whole answer: status, headers (names in lower case), body.
Answer = tuple[int, Mapping[str, str], bytes]
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class UpstreamStream:
    """An open streaming answer: iterate ``chunks()``; always ``close()``."""

    __slots__ = ("_idle_timeout", "_response", "headers", "status")

    def __init__(self, response: Response, idle_timeout: float) -> None:
        self._response = response
        self._idle_timeout = idle_timeout
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read_all(self) -> bytes:
        try:
            async with asyncio.timeout(self._idle_timeout):
                return await self._response.read()
        except TimeoutError:
            self.close()
            raise UpstreamTimeoutError("The provider did not finish its answer in time.") from None

    def chunks(self) -> AsyncIterator[bytes]:
        return self._response.chunks(self._idle_timeout)

    def deliver(self, sink: Callable[[bytes], bool] | None) -> None:
        """Offer each later piece of the body to ``sink`` in the read callback first (it returns
        whether it took it; else the piece is queued for ``chunks()``); ``None`` stops it."""
        self._response.deliver(sink)

    def close(self) -> None:
        self._response.close()


class HttpPool:
    """Keep-alive connections per origin; ``tls`` replaces the default verifying TLS context."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self._origins: dict[str, Origin] = {}
        self._tls = tls

    def _target(self, url: str) -> tuple[Origin, str]:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = Origin(url)
        path = parts.path or "/"
        return origin, f"{path}?{parts.query}" if parts.query else path

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def _send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        holder: list[Connection],
        *,
        method: str = "POST",
        max_bytes: int | None = None,
    ) -> Response:
        origin, path = self._target(url)
        conn = checkout(origin, asyncio.get_running_loop().time())
        if conn is not None:
            holder.append(conn)
            try:
                return await conn.request(path, headers, body, method=method, max_bytes=max_bytes)
            except AnswerTooLargeError:
                raise  # an answer, not a dropped connection: asking again would get it again
            except UpstreamConnectionError:
                conn.abandon()  # the server dropped the kept connection: one more try, fresh
        conn = await connect(origin, self._context() if origin.tls else None)
        holder.append(conn)
        return await conn.request(path, headers, body, method=method, max_bytes=max_bytes)

    def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout: float,
        max_bytes: int | None = None,
    ) -> Coroutine[Any, Any, Answer]:
        """A whole request and answer within ``timeout`` seconds (an answer past ``max_bytes`` is
        refused). A plain function returning the exchange: no coroutine frame of its own on the
        providers' path."""
        return self._exchange("POST", url, body, headers, max_bytes, timeout)

    async def get(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        timeout: float,
        max_bytes: int | None = None,
        redirects: int = 0,
    ) -> Answer:
        """A GET within ``timeout`` seconds in all, following up to ``redirects`` redirects (never
        from https to http); past them, the redirect itself is the answer."""
        try:
            async with asyncio.timeout(timeout):
                for _ in range(redirects):
                    answer = await self._exchange("GET", url, b"", headers, max_bytes, None)
                    location = answer[1].get("location")
                    if answer[0] not in _REDIRECTS or not location:
                        return answer
                    url = _redirected(url, location)
                return await self._exchange("GET", url, b"", headers, max_bytes, None)
        except TimeoutError:
            raise UpstreamTimeoutError(f"The provider did not answer within {timeout:g} s.") from None

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str],
        timeout: float,
        max_bytes: int | None = None,
    ) -> Coroutine[Any, Any, Answer]:
        """Any method but HEAD, whole answer within ``timeout`` seconds; redirects are answers."""
        if method not in METHODS:
            raise ValueError(f"unsupported HTTP method {method!r}")
        return self._exchange(method, url, body, headers, max_bytes, timeout)

    async def _exchange(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        max_bytes: int | None,
        timeout: float | None,
    ) -> Answer:
        """One request and its whole answer; a connection left mid-exchange is closed, never kept."""
        holder: list[Connection] = []
        try:
            async with asyncio.timeout(timeout):
                response = await self._send(url, body, headers, holder, method=method, max_bytes=max_bytes)
                data = await response.read()
        except TimeoutError:
            for conn in holder:
                conn.abandon()
            if timeout is None:  # an outer deadline (a GET's redirects): its owner reports it
                raise
            raise UpstreamTimeoutError(f"The provider did not answer within {timeout:g} s.") from None
        except BaseException:
            for conn in holder:
                conn.abandon()
            raise
        return response.status, response.headers, data

    async def open_stream(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        first_byte_timeout: float,
        idle_timeout: float,
    ) -> UpstreamStream:
        """Send the request; return once the status line and headers arrived."""
        holder: list[Connection] = []
        try:
            async with asyncio.timeout(first_byte_timeout):
                response = await self._send(url, body, headers, holder)
        except TimeoutError:
            for conn in holder:
                conn.abandon()
            raise UpstreamTimeoutError(
                f"The provider did not start answering within {first_byte_timeout:g} s."
            ) from None
        except BaseException:
            for conn in holder:
                conn.abandon()
            raise
        return UpstreamStream(response, idle_timeout)

    async def close(self) -> None:
        for origin in self._origins.values():
            while origin.idle:
                origin.idle.pop()[1].abandon()


def _redirected(url: str, location: str) -> str:
    target = urljoin(url, location)
    if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
        raise UpstreamConnectionError("The provider redirected from https to plain http; not following.")
    return target
