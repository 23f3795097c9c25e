"""One keep-alive HTTP connection to a running gateway, reopened once if the server closed it."""

from __future__ import annotations

import http.client
import json
import urllib.parse

from bastion.testing.gateway import RunningGateway

__all__ = ["KeepAliveClient"]


class KeepAliveClient:
    def __init__(self, gateway: RunningGateway) -> None:
        self.host, port = gateway.url.removeprefix("http://").split(":")
        self.port = int(port)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def account_token(self, username: str, password: str) -> str:
        """A ``/v2`` access token for this account."""
        form = urllib.parse.urlencode({"username": username, "password": password}).encode()
        status, raw = self.send(
            "POST", "/v2/login/access-token", form, {"content-type": "application/x-www-form-urlencoded"}
        )
        assert status == 200, raw
        token: str = json.loads(raw)["access_token"]
        return token
