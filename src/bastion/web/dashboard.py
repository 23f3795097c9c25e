"""The admin dashboard at ``/ui``: routing, login, sessions and CSRF around the pages.

Who may look: the master key, or an active superuser account (``/v2`` accounts). Every page needs
a valid session cookie (see :mod:`bastion.web.sessions`); without one, a GET is redirected to the
login page and a POST is refused. Every POST carries the session's CSRF token. Sessions are
re-checked on each request: a changed master key, a changed password, a deactivated account or
one that lost its superuser flag ends them, and so does logging out, on every process: the
logout is recorded in the shared database
(:class:`~bastion.administration.sessions.SessionRevocations`), so a copy of the cookie is refused
too.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from bastion.accounts.users import AccountService
from bastion.administration import SessionRevocations
from bastion.api.asgi import Request, Send, send_bytes
from bastion.api.endpoints import DASHBOARD, PUBLIC, Audience, Endpoint, Guard
from bastion.api.error_formats import ErrorReply
from bastion.auth.access_tokens import password_stamp
from bastion.domain.errors import (
    AuthenticationError,
    BastionError,
    InvalidRequestError,
    PermissionDeniedError,
)
from bastion.domain.principal import Principal
from bastion.domain.secret import Secret
from bastion.limits.login import LoginThrottle
from bastion.web._html import Markup, csrf_field, e, page
from bastion.web.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Session,
    SessionSigner,
    cookie_header,
    read_cookie,
)

__all__ = ["DASHBOARD_ERRORS", "Dashboard", "PageContext", "Reply"]

_log = logging.getLogger("bastion.web")
_STATIC = Path(__file__).parent / "static"
_FORM_LIMIT = 64 * 1024
#: The login throttle's name for master-key attempts (never an email: it has no "@").
_MASTER_ACCOUNT = "dashboard-master-key"
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
_HTML = b"text/html; charset=utf-8"

Handler = Callable[[Request, Send], Awaitable[None]]


@dataclass(slots=True)
class Reply:
    """What a page handler answers: a page, a redirect (``location``), or a download (another
    ``content_type``, saved under ``filename``)."""

    body: bytes = b""
    status: int = 200
    location: str | None = None
    content_type: bytes = b"text/html; charset=utf-8"
    filename: str | None = None


@dataclass(slots=True)
class PageContext:
    """One request to a page, from a logged-in admin."""

    request: Request
    session: Session
    principal: Principal
    who: str
    csrf: str
    form: dict[str, str]

    @property
    def query(self) -> Any:
        return self.request.query

    def render(self, title: str, body: str, *, current: str, status: int = 200) -> Reply:
        return Reply(page(title, body, current=current, csrf=self.csrf, who=self.who), status)


Page = Callable[[PageContext], Awaitable[Reply]]


class Dashboard:
    """The ``/ui`` routes. ``pages`` maps (method, path) to a page handler."""

    def __init__(
        self,
        *,
        signing_secret: Callable[[], Secret],
        master_key: Secret | None,
        accounts: AccountService,
        throttle: LoginThrottle,
        sessions: SessionRevocations,
        pages: dict[tuple[str, str], Page],
    ) -> None:
        self._secret = signing_secret
        self._signer: SessionSigner | None = None
        self._master = master_key
        self._accounts = accounts
        self._throttle = throttle
        self._sessions = sessions
        self._pages = pages

    @property
    def signer(self) -> SessionSigner:
        if self._signer is None:  # the signing secret may be a file: read on first use, not at import
            self._signer = SessionSigner(self._secret().reveal().encode())
        return self._signer

    def guards(self) -> Mapping[Audience, Guard]:
        return {DASHBOARD: self._session}

    def endpoints(self) -> list[Endpoint]:
        """The login pages (public) and every page behind a session."""

        def route(method: str, path: str, handler: Handler, audience: Audience, summary: str) -> Endpoint:
            return Endpoint(
                method,
                path,
                handler,
                audience,
                DASHBOARD_ERRORS,
                summary,
                tag="dashboard",
                produces="text/csv" if path.endswith(".csv") else "text/html",
            )

        found = [
            route("GET", "/ui/login", self._login_page, PUBLIC, "The login page"),
            route("POST", "/ui/login", self._login, PUBLIC, "Log in (form)"),
            route("GET", "/ui/static/dashboard.css", self._css, PUBLIC, "The dashboard's style sheet"),
            route("POST", "/ui/logout", self._page(self._logout), DASHBOARD, "Log out"),
        ]
        for (method, path), handler in self._pages.items():
            found.append(route(method, path, self._page(handler), DASHBOARD, _summary(path)))
        return found

    # ------------------------------------------------------------------ login and logout

    async def _login_page(self, request: Request, send: Send, *, error: str = "", status: int = 200) -> None:
        nonce = secrets.token_urlsafe(24)
        secure = _is_https(request)
        master = ""
        if self._master is not None:
            master = (
                "<fieldset><legend>Master key</legend><label>Master key"
                '<input type="password" name="master_key" id="master_key" autocomplete="off"></label>'
                "</fieldset>"
            )
        body = (
            (f'<div class="error" id="login-error">{e(error)}</div>' if error else "")
            + '<form class="login" method="post" action="/ui/login">'
            + str(csrf_field(nonce))
            + f'<input type="hidden" name="next" value="{e(request.query.get("next", "/ui"))}">'
            + master
            + "<fieldset><legend>Superuser account</legend>"
            '<label>Email<input type="email" name="email" id="email" autocomplete="username"></label>'
            '<label>Password<input type="password" name="password" id="password" '
            'autocomplete="current-password"></label></fieldset>'
            '<button type="submit" id="login">Log in</button></form>'
        )
        headers = [*_SECURITY_HEADERS, cookie_header(LOGIN_COOKIE, nonce, secure=secure, max_age=3600)]
        await send_bytes(send, status, page("Log in", body), content_type=_HTML, headers=headers)

    async def _login(self, request: Request, send: Send) -> None:
        try:
            form = await _form(request)
        except BastionError as err:
            await self._login_page(request, send, error=err.message, status=err.status)
            return
        expected = read_cookie(request.headers.get("cookie"), LOGIN_COOKIE)
        if not expected or not hmac.compare_digest(expected, form.get("csrf_token", "")):
            await self._login_page(
                request, send, error="The form expired or came from another site; log in again.", status=403
            )
            return
        master = form.get("master_key", "")
        signer = self.signer
        if master:
            # Guesses at the master key are throttled like account logins (per address, then locked).
            address = _address(request)
            try:
                await self._throttle.check(_MASTER_ACCOUNT, address)
            except BastionError as err:
                await self._login_page(request, send, error=err.message, status=err.status)
                return
            if self._master is None or not hmac.compare_digest(
                master.encode(), self._master.reveal().encode()
            ):
                _log.warning("dashboard login with a wrong master key")
                delay = await self._throttle.failed(_MASTER_ACCOUNT, address)
                if delay > 0:
                    await asyncio.sleep(delay)  # the account login's slowdown, for the master key too
                await self._login_page(request, send, error="That is not the master key.", status=401)
                return
            await self._throttle.succeeded(_MASTER_ACCOUNT)
            cookie, _ = signer.issue("master", "", signer.stamp(self._master.reveal()))
        else:
            try:
                token = await self._accounts.log_in(
                    form.get("email", "").strip().lower(), form.get("password", ""), _address(request)
                )
                user = await self._accounts.authenticate(token.token)
            except BastionError as err:
                await self._login_page(request, send, error=err.message, status=err.status)
                return
            if not user.is_superuser:
                await self._login_page(
                    request,
                    send,
                    error="This account is not a superuser; the dashboard is for administrators.",
                    status=403,
                )
                return
            cookie, _ = signer.issue("user", user.user_id, signer.stamp(password_stamp(user.password_hash)))
        secure = _is_https(request)
        target = _local_target(form.get("next", "/ui"))
        await _redirect(
            send,
            target,
            [
                cookie_header(SESSION_COOKIE, cookie, secure=secure, max_age=signer.lifetime_seconds),
                cookie_header(LOGIN_COOKIE, "", secure=secure, max_age=0),
            ],
        )

    async def _logout(self, ctx: PageContext) -> Reply:
        # The cookie is deleted in the browser, but a copy of it would still be signed and unexpired:
        # recording the logout makes every process refuse it.
        await self._sessions.end(ctx.session.nonce, expires_at=ctx.session.expires_at)
        return Reply(location="/ui/login")

    # ------------------------------------------------------------------ the guard

    async def _session(self, request: Request) -> tuple[Session, Principal, str]:
        """The DASHBOARD audience's guard: a valid session of someone still allowed in."""
        session = self.signer.read(read_cookie(request.headers.get("cookie"), SESSION_COOKIE))
        identity = await self._identity(session) if session is not None else None
        if session is None or identity is None:
            raise AuthenticationError("Your session ended.")
        return session, *identity

    def _page(self, handler: Page) -> Handler:
        """A page behind the session guard: the form and its CSRF token checked on a POST."""

        async def handle(request: Request, send: Send) -> None:
            session, principal, who = request.caller
            csrf = self.signer.csrf(session)
            form: dict[str, str] = {}
            if request.method == "POST":
                form = await _form(request)
                if not self.signer.check_csrf(session, form.get("csrf_token")):
                    raise PermissionDeniedError("The form's CSRF token is missing or wrong; reload the page.")
            reply = await handler(PageContext(request, session, principal, who, csrf, form))
            if handler == self._logout:
                secure = _is_https(request)
                await _redirect(
                    send, "/ui/login", [cookie_header(SESSION_COOKIE, "", secure=secure, max_age=0)]
                )
            elif reply.location is not None:
                await _redirect(send, reply.location, [])
            elif reply.filename is not None:
                await _send_download(send, reply)
            else:
                await _send_page(send, reply.status, reply.body)

        return handle

    async def _identity(self, session: Session) -> tuple[Principal, str] | None:
        signer = self.signer
        if await self._sessions.ended(session.nonce):
            return None
        if session.kind == "master":
            if self._master is None or not hmac.compare_digest(
                session.stamp, signer.stamp(self._master.reveal())
            ):
                return None
            return Principal("master", "dashboard:master", ""), "master key"
        if session.kind != "user":
            return None
        user = await self._accounts.find(session.user_id)
        if user is None or not user.is_active or not user.is_superuser or user.password_hash is None:
            return None
        if not hmac.compare_digest(session.stamp, signer.stamp(password_stamp(user.password_hash))):
            return None
        return Principal("master", f"dashboard:{user.user_id}", "", user_id=user.user_id), str(
            user.user_email or user.user_id
        )

    async def _css(self, request: Request, send: Send) -> None:
        body = (_STATIC / "dashboard.css").read_bytes()
        await send_bytes(
            send,
            200,
            body,
            content_type=b"text/css; charset=utf-8",
            headers=[(b"cache-control", b"max-age=300")],
        )


@dataclass(frozen=True, slots=True)
class _DashboardErrors:
    """Errors as pages: a GET without a session goes to the login page; the rest is an HTML page
    with the status (and a login link for 401 and 403)."""

    schema_name: str = "DashboardPage"
    media_type: str = "text/html"
    schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "string", "description": "An HTML page."}
    )

    def render(self, request: Request, err: BastionError, request_id: str) -> ErrorReply:
        headers = [*_SECURITY_HEADERS, (b"x-request-id", request_id.encode())]
        if err.retry_after is not None:
            headers.append((b"retry-after", str(max(math.ceil(err.retry_after), 1)).encode()))
        if isinstance(err, AuthenticationError) and request.method in ("GET", "HEAD"):
            headers.append((b"location", ("/ui/login?next=" + quote(request.path, safe="/")).encode()))
            return ErrorReply(303, b"", _HTML, tuple(headers))
        if err.status in (401, 403):
            body = page("Log in" if err.status == 401 else "Refused", _login_link(err.message))
        else:
            body = page("Error", f'<div class="error">{e(err.message)}</div>')
        return ErrorReply(err.status, body, _HTML, tuple(headers))


DASHBOARD_ERRORS = _DashboardErrors()


def _summary(path: str) -> str:
    """``/ui/keys/edit`` -> ``Dashboard: keys edit``."""
    return "Dashboard: " + (" ".join(path.split("/")[2:]) or "overview")


def _login_link(message: str) -> Markup:
    return Markup(f'<div class="error">{e(message)}</div><p><a href="/ui/login">Log in</a></p>')


async def _form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "")
    if not kind.startswith("application/x-www-form-urlencoded"):
        raise InvalidRequestError("Send the form as application/x-www-form-urlencoded.")
    raw = await request.body(_FORM_LIMIT)
    parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def _local_target(target: str) -> str:
    """Where to go after the login: a dashboard path only (no other site, no header tricks)."""
    if target == "/ui" or (target.startswith("/ui/") and all(" " < c < "\x7f" and c != "\\" for c in target)):
        return target
    return "/ui"


def _is_https(request: Request) -> bool:
    return request.scope.get("scheme") == "https" or request.headers.get("x-forwarded-proto") == "https"


def _address(request: Request) -> str | None:
    client = request.scope.get("client")
    return str(client[0]) if client else None


async def _send_page(send: Send, status: int, body: bytes) -> None:
    await send_bytes(send, status, body, content_type=_HTML, headers=list(_SECURITY_HEADERS))


async def _send_download(send: Send, reply: Reply) -> None:
    """A file to save: its name is ASCII letters, digits, ``.``, ``-`` and ``_`` only (built from
    the page's own filters), so it needs no quoting beyond the quotes."""
    name = "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "_" for c in reply.filename or "")
    headers = [*_SECURITY_HEADERS, (b"content-disposition", f'attachment; filename="{name}"'.encode())]
    await send_bytes(send, reply.status, reply.body, content_type=reply.content_type, headers=headers)


async def _redirect(send: Send, location: str, cookies: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"location", location.encode()), *_SECURITY_HEADERS, *cookies]
    await send_bytes(send, 303, b"", content_type=_HTML, headers=headers)
