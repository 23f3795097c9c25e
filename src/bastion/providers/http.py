"""The pooled HTTP client every HTTP provider shares, with its timeouts.

Connections are kept alive per upstream origin (see :mod:`bastion.providers.transport`). A kept
connection the server closed in the meantime is detected on use and the call is sent once more on
a fresh one, before any byte of an answer was read. Network failures arrive here already mapped to
Bastion's error tree.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

from bastion.domain.errors import UpstreamConnectionError, UpstreamTimeoutError
from bastion.providers.transport import Connection, Origin, Response, checkout, connect

__all__ = ["HttpPool", "UpstreamStream"]


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

    def close(self) -> None:
        self._response.close()


class HttpPool:
    def __init__(self) -> None:
        self._origins: dict[str, Origin] = {}
        self._tls: ssl.SSLContext | None = None

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
        self, url: str, body: bytes, headers: Mapping[str, str], holder: list[Connection]
    ) -> Response:
        origin, path = self._target(url)
        conn = checkout(origin, asyncio.get_running_loop().time())
        if conn is not None:
            holder.append(conn)
            try:
                return await conn.request(path, headers, body)
            except UpstreamConnectionError:
                conn.abandon()  # the server dropped the kept connection: one more try, fresh
        conn = await connect(origin, self._context() if origin.tls else None)
        holder.append(conn)
        return await conn.request(path, headers, body)

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        """A whole request and answer within ``timeout`` seconds."""
        holder: list[Connection] = []
        try:
            async with asyncio.timeout(timeout):
                response = await self._send(url, body, headers, holder)
                data = await response.read()
        except TimeoutError:
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
