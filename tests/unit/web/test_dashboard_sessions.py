"""The dashboard's guard and the session store: a logged-out session is refused; a database that
cannot answer whether a session was logged out gives a 503 page, not a crash."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from bastion.accounts.users import AccountService
from bastion.administration import SessionRevocations
from bastion.api.dispatch import Dispatcher
from bastion.api.endpoints import EndpointTable
from bastion.domain.secret import Secret
from bastion.limits.login import LoginThrottle
from bastion.store.errors import StoreUnavailableError
from bastion.web.dashboard import Dashboard, PageContext, Reply

MASTER = "sk-unit-master-0123456789"


class Sessions:
    """A session store in memory; ``down`` makes it fail as an unreachable database does."""

    def __init__(self) -> None:
        self.ended_nonces: set[str] = set()
        self.down = False

    async def end(self, nonce: str, *, expires_at: float) -> None:
        self.ended_nonces.add(nonce)

    async def ended(self, nonce: str) -> bool:
        if self.down:
            raise StoreUnavailableError("The gateway's database is unavailable right now; try again shortly.")
        return nonce in self.ended_nonces


async def _page(ctx: PageContext) -> Reply:
    return ctx.render("Hello", "<p>hello</p>", current="/ui")


def _dashboard(sessions: Sessions) -> Dashboard:
    return Dashboard(
        signing_secret=lambda: Secret("unit-signing-secret-0123456789abcdef"),
        master_key=Secret(MASTER),
        accounts=cast(AccountService, None),
        throttle=cast(LoginThrottle, None),
        sessions=cast(SessionRevocations, sessions),
        pages={("GET", "/ui"): _page},
    )


async def _get(dashboard: Dashboard, cookie: str) -> tuple[int, bytes, dict[bytes, bytes]]:
    scope = {"method": "GET", "path": "/ui", "headers": [(b"cookie", f"bastion_session={cookie}".encode())]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await Dispatcher(EndpointTable(dashboard.endpoints(), dashboard.guards()))(scope, receive, send)
    return sent[0]["status"], sent[1]["body"], dict(sent[0]["headers"])


def test_an_ended_session_is_sent_to_the_login_and_an_outage_is_a_503_page() -> None:
    sessions = Sessions()
    dashboard = _dashboard(sessions)
    signer = dashboard.signer
    cookie, session = signer.issue("master", "", signer.stamp(MASTER))

    async def scenario() -> list[tuple[int, bytes, dict[bytes, bytes]]]:
        live = await _get(dashboard, cookie)
        sessions.down = True
        outage = await _get(dashboard, cookie)
        sessions.down = False
        await sessions.end(session.nonce, expires_at=session.expires_at)
        ended = await _get(dashboard, cookie)
        return [live, outage, ended]

    live, outage, ended = asyncio.run(scenario())
    assert live[0] == 200 and b"hello" in live[1]
    assert outage[0] == 503 and b"unavailable" in outage[1] and b"hello" not in outage[1]
    assert ended[0] == 303 and ended[2][b"location"].startswith(b"/ui/login")
