"""Drive the management API's handlers without a server: a fake ASGI request and a real database.

``Harness.call`` builds the ASGI scope, feeds the body through ``receive``, sends it through the
management API's route table (its guards and error boundary included), collects what is sent and
decodes it. Authentication is the real virtual-key lookup (no cache) plus
the master key, so a generated key can be used in the next call; ``revoked`` and ``changed``
record every ``on_revoke`` and ``on_change`` the API made.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import orjson

from bastion.administration import Administration, Announcer
from bastion.api.asgi import Request
from bastion.api.dispatch import Dispatcher
from bastion.api.endpoints import EndpointTable
from bastion.api.management import ManagementApi
from bastion.auth.keys import extract_key, hash_key
from bastion.auth.virtual_keys import VirtualKeys
from bastion.domain.errors import AuthenticationError
from bastion.domain.plans import Plan
from bastion.domain.principal import Principal
from bastion.store import Database
from support import MASTER_KEY

T = TypeVar("T")

POSTGRES_DSN = "postgresql://postgres:root@127.0.0.1:5432/test"
MODEL_INFO = [{"model_name": "gpt", "litellm_params": {"model": "openai/gpt-4.1-mini"}, "model_info": {}}]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.body["error"]
        return error


@dataclass
class Harness:
    db: Database
    now: datetime
    revoked: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    #: When set, ``on_revoke`` raises it (a revocation channel that is down).
    revoke_error: Exception | None = None
    model_info: Callable[[], list[dict[str, Any]]] = lambda: MODEL_INFO
    #: The plans of bastion_settings.plans; ``plan_notices`` counts the plan changes announced.
    plans: Mapping[str, Plan] = field(default_factory=dict)
    plan_notices: int = 0

    def __post_init__(self) -> None:
        self.virtual = VirtualKeys(self.db.keys, self.db.teams, ttl=0)
        self.admin = Administration(
            self.db,
            announce=Announcer(self.on_revoke, self.on_change),
            clock=lambda: self.now,
            plans=self.plans,
            notify_plans=self.on_plans,
        )
        self.api = ManagementApi(self.admin, self.authenticate, lambda: self.model_info(), 1024 * 1024)
        self.dispatch = Dispatcher(EndpointTable(self.api.endpoints(), self.api.guards()))

    async def authenticate(self, request: Request) -> Principal:
        key = extract_key(request.headers, None)
        if key is None:
            raise AuthenticationError("No API key was sent.")
        if key == MASTER_KEY:
            return Principal("master", "master", hash_key(key))
        principal = await self.virtual.principal(hash_key(key))
        if principal is None:
            raise AuthenticationError("The API key is not valid for this gateway.", code="invalid_api_key")
        return principal

    async def on_plans(self) -> None:
        self.plan_notices += 1

    async def on_revoke(self, token: str) -> None:
        if self.revoke_error is not None:
            raise self.revoke_error
        self.revoked.append(token)

    async def on_change(self, token: str) -> None:
        if self.revoke_error is not None:
            raise self.revoke_error
        self.changed.append(token)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: str | None = MASTER_KEY,
        query: dict[str, Any] | None = None,
        raw: bytes | None = None,
    ) -> Response:
        payload = raw if raw is not None else (b"" if body is None else orjson.dumps(body))
        headers = [(b"content-type", b"application/json")]
        if auth is not None:
            headers.append((b"authorization", f"Bearer {auth}".encode()))
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": urlencode(query or {}).encode(),
            "headers": headers,
        }
        pending = [{"type": "http.request", "body": payload, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return pending.pop() if pending else {"type": "http.disconnect"}

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.dispatch(scope, receive, send)
        start, body_message = sent
        response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return Response(start["status"], orjson.loads(body_message["body"]), response_headers)

    async def post(self, path: str, body: Any = None, **options: Any) -> Response:
        return await self.call("POST", path, body, **options)

    async def get(self, path: str, auth: str | None = MASTER_KEY, **query: Any) -> Response:
        return await self.call("GET", path, auth=auth, query=query)

    async def generate(self, **fields: Any) -> dict[str, Any]:
        """A key made through ``/key/generate``; fails the test unless it succeeds."""
        response = await self.post("/key/generate", fields)
        assert response.status == 200, response.body
        generated: dict[str, Any] = response.body
        return generated


@dataclass(frozen=True)
class Backend:
    """Where a test's database lives; ``run`` opens it (migrated) and runs a scenario on it."""

    name: str
    url: str | None
    default_path: Path

    def run(
        self, scenario: Callable[[Harness], Awaitable[T]], *, plans: Mapping[str, Plan] | None = None
    ) -> T:
        async def main() -> T:
            database = await Database.open(self.url, default_path=self.default_path)
            try:
                now = datetime.now(UTC).replace(microsecond=0)
                return await scenario(Harness(database, now, plans=dict(plans or {})))
            finally:
                await database.close()

        return asyncio.run(main())
