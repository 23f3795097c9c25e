"""The one route table: every endpoint of the gateway, built once at start-up.

An :class:`Endpoint` is a method, a path template, a handler, the :class:`Audience` that may call
it (whose guard runs before the handler) and the error format its failures are written in. The
routers (client surfaces, management, account, dashboard, browser) each list theirs;
:class:`EndpointTable` puts them together and refuses two endpoints that would answer the same
method and path, so a configurable path can never take over another route.

Templates: ``{name}`` matches one path segment, ``{name:path}`` one or more characters, slashes
included (a Gemini model group such as ``anthropic/claude``). Literal text may follow a parameter
inside a segment (``/v1beta/models/{model:path}:generateContent``). A trailing slash never matters.
Fixed paths are found with one dict lookup; templated ones by a short scan after a cheap
prefix/suffix check.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from bastion.domain.errors import ConfigError

if TYPE_CHECKING:
    from bastion.api.asgi import Request, Send
    from bastion.api.error_formats import ErrorFormat

__all__ = [
    "ACCOUNT_SUPERUSER",
    "ACCOUNT_USER",
    "CLIENT",
    "DASHBOARD",
    "KEY_HOLDER",
    "MASTER",
    "PUBLIC",
    "Audience",
    "Endpoint",
    "EndpointTable",
    "Guard",
    "Handler",
    "Match",
    "NotAllowed",
]

Handler = Callable[["Request", "Send"], Awaitable[None]]
#: Checks who is calling; returns what the handler reads as ``request.caller``, or raises a
#: :class:`~bastion.domain.errors.BastionError` (401, 403) rendered in the endpoint's format.
Guard = Callable[["Request"], Awaitable[Any]]

_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may call an endpoint. ``scheme`` names how OpenAPI describes its credential."""

    name: str
    description: str
    scheme: str | None = None


PUBLIC = Audience("public", "Anyone: no credential.")
CLIENT = Audience(
    "client",
    "A client of the generation surfaces: the master key, a virtual key, a static key, an end "
    "user's JWT or a browser token, as 'Authorization: Bearer', 'x-api-key' or 'x-goog-api-key'.",
    "gatewayKey",
)
MASTER = Audience("master", "The gateway's master key (general_settings.master_key).", "gatewayKey")
KEY_HOLDER = Audience("key_holder", "Any gateway key; a virtual key sees only its own data.", "gatewayKey")
ACCOUNT_USER = Audience("account_user", "A logged-in account's access token (/v2/login).", "accountToken")
ACCOUNT_SUPERUSER = Audience(
    "account_superuser", "A logged-in superuser account's access token.", "accountToken"
)
DASHBOARD = Audience(
    "dashboard", "A dashboard session (the master key or a superuser account).", "dashboardSession"
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route: ``method`` and ``path`` template answered by ``handler``.

    ``inline_auth``: the handler authenticates the caller itself (the generation pipeline, which
    records refused calls too); the table then runs no guard, but the audience is still what
    OpenAPI documents. ``source`` names the setting a configurable path came from, for the
    collision message. ``shed``: whether overload control may refuse the call (never for health,
    readiness and metrics). ``body`` is the request body's JSON Schema for OpenAPI.
    """

    method: str
    path: str
    handler: Handler
    audience: Audience
    errors: ErrorFormat
    summary: str = ""
    tag: str = ""
    body: Mapping[str, Any] | None = None
    query: tuple[str, ...] = ()
    inline_auth: bool = False
    source: str | None = None
    shed: bool = True
    #: OpenAPI: the content type of a successful answer (``text/event-stream`` for streams).
    produces: str = "application/json"

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def describe(self) -> str:
        """How the collision message names it: the setting it came from, or its summary."""
        if self.source is not None:
            return f"{self.label} ({self.source})"
        return f"{self.label} ({self.summary})" if self.summary else self.label


@dataclass(frozen=True, slots=True)
class Match:
    """An endpoint found for a request, with its guard and path parameters."""

    endpoint: Endpoint
    guard: Guard | None
    params: Mapping[str, str] = field(default_factory=lambda: _NO_PARAMS)


@dataclass(frozen=True, slots=True)
class NotAllowed:
    """The path exists but not for this method: a 405 naming ``allowed``, in ``errors``' format."""

    allowed: tuple[str, ...]
    errors: ErrorFormat


@dataclass(frozen=True, slots=True)
class _Template:
    endpoint: Endpoint
    guard: Guard | None
    prefix: str
    suffix: str
    pattern: re.Pattern[str]

    def match(self, path: str) -> dict[str, str] | None:
        if not (path.startswith(self.prefix) and path.endswith(self.suffix)):
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\}")


@functools.cache  # the collision check compares every pair of routes: each path is compiled once
def compile_template(path: str) -> tuple[str, str, re.Pattern[str]] | None:
    """``(literal prefix, literal suffix, regex)`` of a templated path; None for a fixed one."""
    if "{" not in path:
        return None
    parts: list[str] = []
    last = 0
    for found in _PARAM.finditer(path):
        parts.append(re.escape(path[last : found.start()]))
        parts.append(f"(?P<{found.group(1)}>.+)" if found.group(2) else f"(?P<{found.group(1)}>[^/]+)")
        last = found.end()
    parts.append(re.escape(path[last:]))
    first, tail = _PARAM.search(path), path[last:]
    assert first is not None
    return path[: first.start()], tail, re.compile("".join(parts))


@functools.cache
def _witness(path: str) -> str:
    """A concrete path the template matches (every parameter ``x``)."""
    return _PARAM.sub("x", path)


class EndpointTable:
    """Every endpoint, checked for collisions, and the lookup the dispatcher uses.

    ``guards`` gives the one guard of each audience; an endpoint whose audience has none (other
    than public ones and inline-authenticated ones) is refused, like a collision, at build time.
    """

    def __init__(self, endpoints: Iterable[Endpoint], guards: Mapping[Audience, Guard]) -> None:
        self.endpoints: tuple[Endpoint, ...] = tuple(endpoints)
        self._guards = dict(guards)
        problems = self._problems()
        if problems:
            raise ConfigError("\n".join(problems))  # one line each (check-config counts them)
        #: path -> method -> match, for the fixed paths (the generation surfaces' fast dispatch).
        self.fixed: dict[str, dict[str, Match]] = {}
        self._templates: list[_Template] = []
        for endpoint in self.endpoints:
            guard = None if endpoint.inline_auth else self._guards.get(endpoint.audience)
            compiled = compile_template(endpoint.path)
            methods = [endpoint.method, "HEAD"] if endpoint.method == "GET" else [endpoint.method]
            for method in methods:
                if compiled is None:
                    self.fixed.setdefault(endpoint.path, {}).setdefault(method, Match(endpoint, guard))
                elif method == endpoint.method:
                    self._templates.append(_Template(endpoint, guard, *compiled))
        # Longer literal prefixes first: the most specific template wins a tie on a method.
        self._templates.sort(key=lambda t: -len(t.prefix))
        self._families = self._family_formats()

    # ------------------------------------------------------------------ lookup

    def find(self, method: str, path: str) -> Match | NotAllowed | None:
        """The match for ``method path``; else the methods the path allows (a 405); else None."""
        by_method = self.fixed.get(path)
        if by_method is not None:
            found = by_method.get(method)
            if found is not None:
                return found
        allowed: list[str] = []
        errors: ErrorFormat | None = None
        if by_method is not None:
            allowed.extend(by_method)
            errors = next(iter(by_method.values())).endpoint.errors
        for template in self._templates:
            params = template.match(path)
            if params is None:
                continue
            wanted = template.endpoint.method
            if wanted == method or (method == "HEAD" and wanted == "GET"):
                return Match(template.endpoint, template.guard, params)
            allowed.extend(("GET", "HEAD") if wanted == "GET" else (wanted,))
            errors = errors or template.endpoint.errors
        if errors is None:
            return None
        return NotAllowed(tuple(sorted(set(allowed))), errors)

    def family(self, path: str) -> ErrorFormat | None:
        """The error format of the routes under the longest prefix of ``path`` that has any, when
        they all share one (``/v2/...``: the account API's); None when unknown or mixed."""
        parts = path.split("/")
        for size in range(len(parts), 1, -1):
            formats = self._families.get("/".join(parts[:size]))
            if formats is not None:
                return formats[0] if len(formats) == 1 else None
        return None

    # ------------------------------------------------------------------ building

    def _family_formats(self) -> dict[str, list[ErrorFormat]]:
        families: dict[str, list[ErrorFormat]] = {}
        for endpoint in self.endpoints:
            literal = endpoint.path.split("{", 1)[0]
            parts = literal.split("/")
            if "{" in endpoint.path:
                parts = parts[:-1]  # the segment holding the parameter is not a literal prefix
            for size in range(2, len(parts) + 1):
                formats = families.setdefault("/".join(parts[:size]), [])
                if endpoint.errors not in formats:
                    formats.append(endpoint.errors)
        return families

    def _problems(self) -> list[str]:
        problems: list[str] = []
        for endpoint in self.endpoints:
            if (
                endpoint.audience is not PUBLIC
                and not endpoint.inline_auth
                and endpoint.audience not in self._guards
            ):
                problems.append(f"{endpoint.label}: no guard for the '{endpoint.audience.name}' audience")
            if endpoint.path != "/" and endpoint.path.endswith("/"):
                problems.append(f"{endpoint.label}: a path template must not end with '/'")
        for at, endpoint in enumerate(self.endpoints):
            problems.extend(
                _collision(other, endpoint)
                for other in self.endpoints[:at]
                if other.method == endpoint.method and _collide(other, endpoint)
            )
        return problems


def _collide(a: Endpoint, b: Endpoint) -> bool:
    """Whether ``a`` and ``b`` (same method) can answer one path.

    A fixed path inside a template of the built-in table is intended (``/v2/users/me`` before
    ``/v2/users/{user_id}``: the fixed one wins); when either came from a setting it is refused.
    """
    ta, tb = compile_template(a.path), compile_template(b.path)
    if ta is None and tb is None:
        return a.path == b.path
    if ta is not None and tb is not None:
        return bool(ta[2].fullmatch(_witness(b.path)) or tb[2].fullmatch(_witness(a.path)))
    configured = a.source is not None or b.source is not None
    if ta is not None:
        return configured and bool(ta[2].fullmatch(b.path))
    assert tb is not None
    return configured and bool(tb[2].fullmatch(a.path))


def _collision(first: Endpoint, second: Endpoint) -> str:
    configured, other = (second, first) if second.source is not None else (first, second)
    if configured.source is not None:
        return (
            f"{configured.source}: '{configured.path}' is already served: {other.describe()}; "
            "choose another path"
        )
    return f"two routes answer {first.label}: {first.describe()} and {second.describe()}"
