"""The pooled HTTP client that every HTTP provider shares.

One keep-alive ``aiohttp.ClientSession`` per upstream origin, created lazily inside the running
loop. Network failures are mapped here, at the boundary, to Bastion's error tree.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from bastion.domain.errors import UpstreamConnectionError, UpstreamTimeoutError

__all__ = ["HttpPool", "UpstreamStream"]

_CHUNK = 65536


@dataclass(slots=True)
class UpstreamStream:
    """An open streaming response; iterate ``chunks()``; always ``close()``."""

    status: int
    headers: Mapping[str, str]
    _response: aiohttp.ClientResponse

    async def read_all(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map_error(exc) from exc
        finally:
            self._response.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map_error(exc) from exc

    def close(self) -> None:
        # close() (not release()) so an unfinished upstream generation is cut off, not drained.
        if not self._response.closed:
            self._response.close()


class HttpPool:
    def __init__(self, *, limit_per_host: int = 0) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._limit_per_host = limit_per_host

    def _session(self, url: str) -> aiohttp.ClientSession:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        session = self._sessions.get(origin)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=0, limit_per_host=self._limit_per_host, ttl_dns_cache=300, keepalive_timeout=60
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._sessions[origin] = session
        return session

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        """A whole request/response within ``timeout`` seconds."""
        session = self._session(url)
        try:
            async with session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                data = await resp.read()
                return resp.status, resp.headers, data
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map_error(exc) from exc

    async def open_stream(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        first_byte_timeout: float,
        idle_timeout: float,
    ) -> UpstreamStream:
        """Send the request and return once the status line and headers arrived."""
        session = self._session(url)
        try:
            resp = await asyncio.wait_for(
                session.post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=idle_timeout),
                ),
                timeout=first_byte_timeout,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _map_error(exc) from exc
        return UpstreamStream(resp.status, resp.headers, resp)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


def _map_error(exc: BaseException) -> UpstreamTimeoutError | UpstreamConnectionError:
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeoutError("The provider did not answer in time.")
    return UpstreamConnectionError(f"Could not reach the provider: {type(exc).__name__}.")
