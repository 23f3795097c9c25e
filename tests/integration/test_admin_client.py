"""bastion.admin against loopback servers: HTTPS verified (a private CA through SSL_CERT_FILE), the
master key never sent on to a redirect's host, and every failure an AdminError."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from bastion.admin import AdminError, generate_session_key
from support.serve import free_port
from support.test_ca import TestCA

MASTER = "sk-master-admin-client-0000"


class FakeGateway:
    """Answers the calls generate_session_key makes; records each (method, path, authorization)."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, redirect_to: str | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.tls = tls
        self.redirect_to = redirect_to
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    @contextmanager
    def running(self) -> Iterator[FakeGateway]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.calls.append((self.command, self.path, self.headers.get("authorization", "")))
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                if owner.redirect_to is not None:
                    self.send_response(307)
                    self.send_header("location", owner.redirect_to + self.path)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                status, body = 200, {"key": "sk-session-key-0000", "team_id": "org-1"}
                if self.path.startswith("/team/info"):
                    status, body = 404, {"error": {"message": "Team not found"}}
                data = orjson.dumps(body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def test_https_with_a_private_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trusted through SSL_CERT_FILE: the team is made, the key returned; without it, refused."""
    ca = TestCA()
    with FakeGateway(tls=ca.server_context("localhost")).running() as gateway:
        with pytest.raises(AdminError, match="certificate verify failed") as refused:
            generate_session_key("s-1", "org-1", proxy_url=gateway.url, master_key=MASTER)
        assert refused.value.status == 0 and MASTER not in str(refused.value)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca.write(tmp_path / "ca.pem")))
        key = generate_session_key("s-1", "org-1", proxy_url=gateway.url, master_key=MASTER)
    assert key == "sk-session-key-0000"
    assert [(method, path.split("?")[0]) for method, path, _ in gateway.calls] == [
        ("GET", "/team/info"),
        ("POST", "/team/new"),
        ("POST", "/key/generate"),
    ]


def test_a_redirect_is_not_followed_and_the_master_key_stays_home() -> None:
    with (
        FakeGateway().running() as elsewhere,
        FakeGateway(redirect_to=elsewhere.url).running() as gateway,
        pytest.raises(AdminError, match="redirects to") as refused,
    ):
        generate_session_key("s-1", "org-1", proxy_url=gateway.url, master_key=MASTER)
    assert refused.value.status == 307
    assert [auth for _, _, auth in gateway.calls] == [f"Bearer {MASTER}"]
    assert elsewhere.calls == []


def test_an_unreachable_gateway_is_an_admin_error() -> None:
    with pytest.raises(AdminError, match="could not reach the gateway") as refused:
        generate_session_key("s-1", "org-1", proxy_url=f"http://127.0.0.1:{free_port()}", master_key=MASTER)
    assert refused.value.status == 0
