"""HTTPS on the one outbound client: certificates verified against a CA, host names checked, SNI
sent, on asyncio's loop and on uvloop (the gateway's), against loopback servers whose certificates
come from a CA made in the test."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import uvloop

from bastion.domain.errors import UpstreamConnectionError
from bastion.outbound.http import HttpPool
from support.test_ca import TestCA

Main = Callable[[], Awaitable[None]]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Main], None]:
    factory = uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop

    def run_main(main: Main) -> None:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(main())

    return run_main


async def https_server(context: ssl.SSLContext, *, location: bytes = b"") -> tuple[asyncio.Server, int]:
    """Answers every request with 200 and a body naming its method (or redirects to ``location``)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                method = head.split(b" ", 1)[0]
                if location:
                    writer.write(
                        b"HTTP/1.1 302 Found\r\nlocation: %s\r\ncontent-length: 0\r\n\r\n" % location
                    )
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(method), method))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[1]


def test_a_certificate_from_the_trusted_ca_is_accepted_and_sni_is_sent(run: Callable[[Main], None]) -> None:
    ca = TestCA()
    context = ca.server_context("localhost")

    async def main() -> None:
        server, port = await https_server(context)
        pool = HttpPool(tls=ca.client_context())
        try:
            assert (await pool.post(f"https://localhost:{port}/v1/x", b"{}", {}, timeout=5))[2] == b"POST"
            assert (await pool.get(f"https://localhost:{port}/keys", {}, timeout=5))[2] == b"GET"
        finally:
            await pool.close()
            server.close()

    run(main)
    assert context.sni_seen == ["localhost"]  # type: ignore[attr-defined]  # one kept connection


def test_a_certificate_from_an_unknown_ca_is_refused(run: Callable[[Main], None]) -> None:
    """The system's CAs do not know the test CA: no request is sent over that connection."""
    context = TestCA().server_context("localhost")

    async def main() -> None:
        server, port = await https_server(context)
        try:
            with pytest.raises(UpstreamConnectionError, match="TLS certificate was refused") as refused:
                await HttpPool().post(f"https://localhost:{port}/v1/x", b"{}", {}, timeout=5)
            assert "local issuer" in refused.value.message or "self" in refused.value.message
        finally:
            server.close()

    run(main)


def test_a_certificate_for_another_host_is_refused(run: Callable[[Main], None]) -> None:
    ca = TestCA()
    context = ca.server_context("billing.example.com")

    async def main() -> None:
        server, port = await https_server(context)
        try:
            with pytest.raises(UpstreamConnectionError, match=r"TLS certificate was refused.*[Hh]ostname"):
                await HttpPool(tls=ca.client_context()).get(f"https://localhost:{port}/keys", {}, timeout=5)
        finally:
            server.close()

    run(main)


def test_the_default_context_trusts_the_cas_of_ssl_cert_file(
    run: Callable[[Main], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How an operator adds a private CA (an internal identity provider, a billing proxy): the
    OpenSSL variable every program honours, no setting of Bastion's."""
    ca = TestCA()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.write(tmp_path / "ca.pem")))
    context = ca.server_context("127.0.0.1")

    async def main() -> None:
        server, port = await https_server(context)
        try:
            assert (await HttpPool().get(f"https://127.0.0.1:{port}/keys", {}, timeout=5))[0] == 200
        finally:
            server.close()

    run(main)


def test_plain_http_to_a_tls_port_is_a_clear_error(run: Callable[[Main], None]) -> None:
    ca = TestCA()

    async def main() -> None:
        server, port = await https_server(ca.server_context("localhost"))
        try:
            with pytest.raises(UpstreamConnectionError):
                await HttpPool().post(f"http://localhost:{port}/v1/x", b"{}", {}, timeout=5)
        finally:
            server.close()

    run(main)


def test_a_redirect_from_https_to_plain_http_is_refused(run: Callable[[Main], None]) -> None:
    """A downgrade would let anyone on the path answer in the provider's name."""
    ca = TestCA()

    async def main() -> None:
        server, port = await https_server(ca.server_context("localhost"), location=b"http://localhost:9/keys")
        try:
            with pytest.raises(UpstreamConnectionError, match="https to plain http"):
                await HttpPool(tls=ca.client_context()).get(
                    f"https://localhost:{port}/keys", {}, timeout=5, redirects=3
                )
        finally:
            server.close()

    run(main)
