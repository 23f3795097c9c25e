"""Property-based fuzz of every administration route: hostile input never gets a 5xx.

Every management route (``/key/*``, ``/team/*``, ``/user/*``, ``/spend/*``, ``/model/*``,
``/billing/*``, ``/routing/dry-run``), every ``/v2`` route except chat (login, users, provider
keys, models, conversations, usage, admin keys), ``POST /api/token`` (browser token minting) and
the dashboard's login, pages and forms get bodies, query strings and path parameters made of what
breaks databases and encoders: NUL characters, numbers beyond 64 bits and beyond PostgreSQL's
``integer``, ``1e308``, strings longer than the columns, JSON nested hundreds of levels deep,
wrong types and unknown fields. The gateway runs on a SQLite file and on a PostgreSQL schema;
each answer must be below 500. :data:`ROUTES` names routes as the route table does, and a test
checks it against the table: every administration endpoint is fuzzed (or in :data:`NOT_FUZZED`,
with the reason), with every body field ``/openapi.json`` documents for it.

Bodies are encoded with the standard library's ``json`` (which writes integers of any size and
escapes NUL as ``\\u0000``), so the gateway sees exactly what a hostile client can send.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.administration.end_users import END_USER_FIELDS
from bastion.administration.key_fields import GENERATE_FIELDS, IGNORED_LITELLM_KEY_FIELDS, KEY_TEXT_FIELDS
from bastion.administration.plans import PLAN_FIELDS
from bastion.administration.teams import TEAM_FIELDS, TEAM_TEXT_FIELDS
from bastion.administration.users import USER_FIELDS
from bastion.app import build_app
from bastion.settings import load_settings
from bastion.testing.gateway import RunningGateway
from support import MASTER_KEY
from support.accounts import ENCRYPTION_KEY, SUPERUSER, SUPERUSER_PASSWORD
from support.backends import PG, drop_schema, require
from support.keepalive import KeepAliveClient

#: Examples per route and backend: enough to hit each kind of hostile value on each route, few
#: enough that the fuzz stays well under a minute per backend. ``BASTION_FUZZ_EXAMPLES=200`` digs
#: deeper (about 12 minutes on a busy two-core machine).
EXAMPLES = int(os.environ.get("BASTION_FUZZ_EXAMPLES", "20"))

_DEEP = 1100


@dataclass(frozen=True)
class Deep:
    """JSON nested ``depth`` levels (lists or objects): written as text, deeper than Python's own
    encoder goes."""

    depth: int
    kind: str

    def text(self) -> str:
        if self.kind == "list":
            return "[" * self.depth + '"x"' + "]" * self.depth
        return '{"a":' * self.depth + '"x"' + "}" * self.depth


_DEEP_MARK = re.compile(r'"\\u0001deep:(\d+):(list|dict)\\u0001"')


def encode(value: Any) -> str:
    """``value`` as JSON text: integers of any size, NUL escaped, :class:`Deep` written out."""

    def mark(item: Any) -> str:
        if isinstance(item, Deep):
            return f"\x01deep:{item.depth}:{item.kind}\x01"
        raise TypeError(type(item).__name__)

    text = json.dumps(value, default=mark)
    return _DEEP_MARK.sub(lambda m: Deep(int(m.group(1)), m.group(2)).text(), text)


#: Scalars and shapes that broke a backend or an encoder at least once.
NASTY_SCALARS: list[Any] = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "sk-\x00\x00",
    "x" * 256,
    "x" * 5000,
    "\u202e\ufeff",
    "💥",
    "-1",
    "1e308",
    "9223372036854775808",
    "30days",
    "24h",
    "2026-13-45",
    "0000-01-01",
    "9999-12-31T23:59:59+14:00",
    0,
    -1,
    1,
    2**31 - 1,
    2**31,
    2**32,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    1.5,
    -0.0,
    1e308,
    -1e308,
    1e-320,
    99_999_999.99,
    100_000_000,
    True,
    False,
    None,
]

_nasty = st.sampled_from(NASTY_SCALARS)
# Mostly the known-hostile values, with hypothesis' own text and numbers for what nobody listed.
_scalars = st.one_of(
    _nasty,
    _nasty,
    _nasty,
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_deep = st.builds(Deep, st.integers(min_value=200, max_value=_DEEP), st.sampled_from(["list", "dict"]))
_values = st.recursive(
    st.one_of(_scalars, _deep),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
_nasty_text = st.sampled_from([str(v) for v in NASTY_SCALARS if not isinstance(v, bool | type(None))])
_query_values = st.one_of(
    _nasty_text,
    _nasty_text,
    st.text(max_size=40),
)


def _bodies(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Mostly one of the route's own fields with a hostile value (so no other field's refusal hides
    it), else several of them, unknown fields, or not an object at all."""
    if not fields:
        return st.one_of(st.just({}), st.dictionaries(st.text(max_size=12), _values, max_size=4), _values)
    one = st.builds(lambda name, value: {name: value}, st.sampled_from(fields), _values)
    several = st.fixed_dictionaries({}, optional=dict.fromkeys(fields, _values))
    return st.one_of(
        one,
        one,
        one,
        several,
        st.dictionaries(st.text(max_size=12), _values, max_size=4),
        _values,
    )


def _queries(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, _query_values))


@dataclass(frozen=True)
class Route:
    method: str
    #: The path as the route table names it; each ``{parameter}`` gets a hostile value.
    path: str
    #: Who calls it: "master" (the master key), "user" (a superuser's access token), "dashboard"
    #: (a master-key session), "login" (the login form's nonce cookie), "none".
    auth: str
    fields: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    #: The body is a form (the dashboard, the OAuth2 login), not JSON.
    form: bool = False
    #: Fields every body starts from, so the hostile field reaches the code behind the lookup:
    #: ``{"key": KEY}`` is a fresh key's hash, ``{"key": REF}`` its dashboard reference.
    base: tuple[tuple[str, str], ...] = ()

    @property
    def templated(self) -> bool:
        return "{" in self.path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# Every field each route applies, plus a few it accepts and ignores.
_KEY_FIELDS = (*sorted(GENERATE_FIELDS), "soft_budget", "tags")
_REGENERATE_FIELDS = (*(f for f in _KEY_FIELDS if f != "key"), "grace_period", "new_key", "new_master_key")
_TEAM_FIELDS = ("team_id", *sorted(TEAM_FIELDS - {"team_id"}))
_USER_FIELDS = ("user_id", *sorted(USER_FIELDS - {"user_id"}))
_PLAN_FIELDS = ("budget_id", *sorted(PLAN_FIELDS - {"budget_id"}))
_CUSTOMER_FIELDS = ("user_id", *sorted(END_USER_FIELDS - {"user_id"}))
_SPEND_QUERY = (
    "api_key",
    "request_id",
    "team_id",
    "user_id",
    "start_date",
    "end_date",
    "summarize",
    "limit",
    "offset",
)
_FORM_KEY = KEY_TEXT_FIELDS
#: The key edit form: its fields, "Expires at", and the values the form showed (was_...).
_EDIT_KEY = (*_FORM_KEY, "expires", *(f"was_{name}" for name in (*_FORM_KEY, "expires")))
_WAS_TEAM = tuple(f"was_{name}" for name in TEAM_TEXT_FIELDS)
#: The requests and spend pages' filters.
_FILTERS = ("key", "team", "user", "model", "status", "range", "start", "end")

KEY = "<a fresh key's hash>"
REF = "<a fresh key's dashboard reference>"

ROUTES = [
    # The management API (master key).
    Route("POST", "/key/generate", "master", _KEY_FIELDS),
    Route("POST", "/key/update", "master", _KEY_FIELDS, base=(("key", KEY),)),
    Route("POST", "/key/delete", "master", ("keys", "key_aliases")),
    Route("POST", "/key/regenerate", "master", _REGENERATE_FIELDS, base=(("key", KEY),)),
    Route("POST", "/key/regenerate", "master", ("key",)),
    Route("POST", "/key/{key}/regenerate", "master", ("key", *_REGENERATE_FIELDS)),
    Route("POST", "/key/block", "master", ("key", "key_alias")),
    Route("POST", "/key/block", "master", ("team_id",), base=(("key", KEY),)),
    Route("POST", "/key/unblock", "master", ("key", "key_alias")),
    Route("GET", "/key/info", "master", query=("key",)),
    Route(
        "GET",
        "/key/list",
        "master",
        query=("page", "size", "key_hash", "user_id", "team_id", "key_alias", "return_full_object"),
    ),
    Route("POST", "/team/new", "master", _TEAM_FIELDS),
    Route("POST", "/team/update", "master", _TEAM_FIELDS),
    Route("POST", "/team/update", "master", _TEAM_FIELDS[1:], base=(("team_id", "org-1"),)),
    Route("POST", "/team/delete", "master", ("team_ids",)),
    Route("GET", "/team/info", "master", query=("team_id",)),
    Route("GET", "/team/list", "master"),
    Route("POST", "/user/new", "master", _USER_FIELDS),
    Route("POST", "/user/update", "master", _USER_FIELDS),
    Route("POST", "/user/update", "master", _USER_FIELDS[1:], base=(("user_id", "user-1"),)),
    Route("POST", "/user/delete", "master", ("user_ids",)),
    Route("GET", "/user/info", "master", query=("user_id",)),
    Route("GET", "/user/list", "master", query=("page", "page_size")),
    Route("POST", "/budget/new", "master", _PLAN_FIELDS),
    Route("POST", "/budget/update", "master", _PLAN_FIELDS),
    Route("POST", "/budget/update", "master", _PLAN_FIELDS[1:], base=(("budget_id", "tier-1"),)),
    Route("POST", "/budget/info", "master", ("budgets",)),
    Route("GET", "/budget/info", "master", query=("budget_id",)),
    Route("GET", "/budget/list", "master"),
    Route("POST", "/budget/delete", "master", ("id", "budget_ids")),
    *(
        route
        for prefix in ("/customer", "/end_user")
        for route in (
            Route("POST", f"{prefix}/new", "master", _CUSTOMER_FIELDS),
            Route("POST", f"{prefix}/update", "master", _CUSTOMER_FIELDS),
            Route("POST", f"{prefix}/update", "master", _CUSTOMER_FIELDS[1:], base=(("user_id", "cust-1"),)),
            Route("GET", f"{prefix}/info", "master", query=("end_user_id",)),
            Route("GET", f"{prefix}/list", "master"),
            Route("POST", f"{prefix}/delete", "master", ("user_ids",)),
            Route("POST", f"{prefix}/block", "master", ("user_ids",)),
            Route("POST", f"{prefix}/unblock", "master", ("user_ids",)),
        )
    ),
    Route("GET", "/spend/logs", "master", query=_SPEND_QUERY),
    Route("GET", "/model/info", "master"),
    Route("GET", "/v1/model/info", "master"),
    Route(
        "GET",
        "/billing/events",
        "master",
        query=("team_id", "status", "start_date", "end_date", "limit", "offset"),
    ),
    Route("POST", "/billing/events/retry", "master", ("id",)),
    Route("POST", "/billing/events/cancel", "master", ("id",)),
    Route("POST", "/routing/dry-run", "master", ("model", "headers", "team_id", "messages")),
    # Browser token minting (a Bastion key mints for a page).
    Route("POST", "/api/token", "master", ("models", "max_budget", "ttl_seconds", "user")),
    # The account API (a superuser's access token), chat excepted.
    Route("POST", "/v2/login/access-token", "none", ("username", "password"), form=True),
    Route("POST", "/v2/login/access-token", "none", ("username", "password")),
    Route("GET", "/v2/users/me", "user"),
    Route("PATCH", "/v2/users/me/password", "user", ("current_password", "new_password")),
    Route("GET", "/v2/users/me/api-key-status", "user"),
    Route("PATCH", "/v2/users/me/api-key", "user", ("anthropic_api_key", "openai_api_key", "google_api_key")),
    Route("DELETE", "/v2/users/me/api-key", "user", query=("provider",)),
    Route("GET", "/v2/users", "user", query=("page", "page_size")),
    Route("POST", "/v2/users", "user", ("email", "password", "full_name", "is_superuser")),
    Route("GET", "/v2/users/{user_id}", "user"),
    Route(
        "PATCH",
        "/v2/users/{user_id}",
        "user",
        ("email", "full_name", "password", "is_active", "is_superuser"),
    ),
    Route("DELETE", "/v2/users/{user_id}", "user"),
    Route("GET", "/v2/llm-models", "user", query=("is_active",)),
    Route("GET", "/v2/llm/conversations", "user", query=("page", "page_size")),
    Route("GET", "/v2/llm/conversations/{conversation_id}", "user"),
    Route("GET", "/v2/billing/usage/my-usage", "user", query=("days",)),
    Route("GET", "/v2/billing/usage/users", "user", query=("user_id", "model", "start", "end", "days")),
    Route("GET", "/v2/admin/llm-keys", "user"),
    Route("PUT", "/v2/admin/llm-keys/{provider}", "user", ("api_key",)),
    Route("POST", "/v2/admin/llm-keys/{provider}/rotate", "user", ("api_key",)),
    Route("DELETE", "/v2/admin/llm-keys/{provider}", "user"),
    # The dashboard's login (the form's nonce cookie sent, so the fields reach the login itself).
    Route("GET", "/ui/login", "none", query=("next",)),
    Route("POST", "/ui/login", "login", ("master_key", "email", "password", "next"), form=True),
    # The dashboard's pages and forms (a master-key session with its CSRF token).
    Route("GET", "/ui", "dashboard", query=("window",)),
    Route("GET", "/ui/requests", "dashboard", query=(*_FILTERS, "page")),
    Route("GET", "/ui/users", "dashboard"),
    Route("GET", "/ui/plans", "dashboard"),
    Route("GET", "/ui/models", "dashboard"),
    Route("GET", "/ui/billing", "dashboard", query=("status",)),
    Route("GET", "/ui/keys", "dashboard", query=("page", "done", "q")),
    Route("POST", "/ui/keys/create", "dashboard", _FORM_KEY, form=True),
    Route("POST", "/ui/keys/edit", "dashboard", ("key", *_EDIT_KEY), form=True),
    Route("POST", "/ui/keys/edit", "dashboard", _EDIT_KEY, form=True, base=(("key", REF),)),
    Route("POST", "/ui/keys/rotate", "dashboard", ("key", "grace_period"), form=True),
    Route("POST", "/ui/keys/rotate", "dashboard", ("grace_period",), form=True, base=(("key", REF),)),
    Route("POST", "/ui/keys/block", "dashboard", ("key",), form=True),
    Route("POST", "/ui/keys/unblock", "dashboard", ("key",), form=True),
    Route("POST", "/ui/keys/delete", "dashboard", ("key", "confirm"), form=True),
    Route("GET", "/ui/keys/delete", "dashboard", query=("key",)),
    Route("GET", "/ui/keys/edit", "dashboard", query=("key",)),
    Route("GET", "/ui/teams", "dashboard", query=("done",)),
    Route("POST", "/ui/teams/create", "dashboard", TEAM_TEXT_FIELDS, form=True),
    Route("POST", "/ui/teams/edit", "dashboard", (*TEAM_TEXT_FIELDS, *_WAS_TEAM), form=True),
    Route(
        "POST", "/ui/teams/edit", "dashboard", TEAM_TEXT_FIELDS[1:], form=True, base=(("team_id", "org-1"),)
    ),
    Route("POST", "/ui/teams/block", "dashboard", ("team_id",), form=True),
    Route("POST", "/ui/teams/unblock", "dashboard", ("team_id",), form=True),
    Route("POST", "/ui/teams/delete", "dashboard", ("team_id",), form=True),
    Route("GET", "/ui/teams/edit", "dashboard", query=("team_id",)),
    Route("GET", "/ui/spend", "dashboard", query=("by", *_FILTERS)),
    Route("GET", "/ui/spend.csv", "dashboard", query=("by", *_FILTERS)),
]

#: The routes of the administration families (management, account, dashboard, browser tokens) the
#: fuzz leaves out, and why. Every other one of them in the route table must be in ROUTES.
NOT_FUZZED = {
    ("POST", "/v2/llm/chat/completions"): "chat: a generation call, not administration",
    ("POST", "/v2/llm/chat/completions/stream"): "chat: a generation call, not administration",
    ("POST", "/ui/logout"): "it ends the session the dashboard routes are fuzzed with",
    ("GET", "/ui/static/dashboard.css"): "a static file: no input",
}
#: The route table's tags of the administration families, and the browser's token minting.
_FAMILIES = ("management", "account", "dashboard")
_BROWSER_ADMIN = {("POST", "/api/token")}
_LOGIN_NONCE = "fuzz-login-nonce"
_PARAMETER = re.compile(r"\{[^}]+\}")


class Client(KeepAliveClient):
    """One keep-alive connection to the gateway, with the credentials each audience needs."""

    def __init__(self, gateway: RunningGateway) -> None:
        super().__init__(gateway)
        self.user_token = ""
        self.cookie = ""
        self.csrf = ""

    def log_in(self) -> None:
        self.user_token = self.account_token(SUPERUSER, SUPERUSER_PASSWORD)
        status, raw = self.send("GET", "/ui/login", None, {})
        nonce = re.search(rb'name="csrf_token" value="([^"]+)"', raw)
        assert nonce is not None
        login = urllib.parse.urlencode(
            {"csrf_token": nonce.group(1).decode(), "master_key": MASTER_KEY, "next": "/ui"}
        ).encode()
        self.conn.request(
            "POST",
            "/ui/login",
            body=login,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "cookie": f"bastion_login={nonce.group(1).decode()}",
            },
        )
        response = self.conn.getresponse()
        response.read()
        assert response.status == 303
        cookie = next(
            value
            for name, value in response.getheaders()
            if name.lower() == "set-cookie" and value.startswith("bastion_session=")
        )
        self.cookie = cookie.split(";")[0]
        status, raw = self.send("GET", "/ui/keys", None, {"cookie": self.cookie})
        csrf = re.search(rb'name="csrf_token" value="([^"]+)"', raw)
        assert status == 200 and csrf is not None
        self.csrf = csrf.group(1).decode()

    def fresh_key(self) -> str:
        status, raw = self.call(Route("POST", "/key/generate", "master"), "", {"team_id": "org-1"}, {})
        assert status == 200, raw
        token: str = json.loads(raw)["token"]
        return token

    def call(self, route: Route, path_value: str, body: Any, query: dict[str, str]) -> tuple[int, bytes]:
        path = route.path
        if route.base:
            token = self.fresh_key()
            fills = {KEY: token, REF: token[:16]}
            base = {name: fills.get(value, value) for name, value in route.base}
            body = {**base, **body} if isinstance(body, dict) else base
        if route.templated:
            path = _PARAMETER.sub(lambda _: urllib.parse.quote(path_value, safe=""), path)
        if query:
            path += "?" + urllib.parse.urlencode(query)
        headers: dict[str, str] = {}
        if route.auth == "master":
            headers["authorization"] = f"Bearer {MASTER_KEY}"
        elif route.auth == "user":
            headers["authorization"] = f"Bearer {self.user_token}"
        elif route.auth == "dashboard":
            headers["cookie"] = self.cookie
        elif route.auth == "login":
            headers["cookie"] = f"bastion_login={_LOGIN_NONCE}"
        raw: bytes | None = None
        if route.method != "GET":
            if route.form:
                fields = body if isinstance(body, dict) else {"value": body}
                if route.auth == "dashboard":
                    fields = {**fields, "csrf_token": self.csrf}
                elif route.auth == "login":
                    fields = {**fields, "csrf_token": _LOGIN_NONCE}
                raw = urllib.parse.urlencode(
                    {str(k): v if isinstance(v, str) else encode(v) for k, v in fields.items()}
                ).encode()
                headers["content-type"] = "application/x-www-form-urlencoded"
            else:
                raw = encode(body).encode()
                headers["content-type"] = "application/json"
        return self.send(route.method, path, raw, headers)


def _config(database_url: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "environment_variables": {
            "FIRST_SUPERUSER": SUPERUSER,
            "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
            "ENCRYPTION_KEY": ENCRYPTION_KEY,
        },
        "model_list": [
            {"model_name": "mock", "litellm_params": {"model": "mock/echo"}},
            {"model_name": "gpt", "litellm_params": {"model": "mock/echo"}},
        ],
        "general_settings": {"master_key": MASTER_KEY},
        "bastion_settings": {
            "accounts": {
                "jwt_secret": "fuzz-signing-secret-0123456789abcdefghij",
                # Fuzzed logins fail by the hundred: no slowdown, no lockout of the superuser.
                "login_slowdown_seconds": 0,
                "login_max_failures": 1_000_000,
            },
            "browser": {"models": ["mock"], "cors_origins": ["https://app.example.com"]},
        },
    }
    if database_url is not None:
        config["general_settings"]["database_url"] = database_url
    return config


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    schema = None
    url = None
    if request.param == "postgresql":
        require(5432, "PostgreSQL")
        schema = "fuzz_" + secrets.token_hex(6)
        url = f"{PG}?schema={schema}"
    folder: Path = tmp_path_factory.mktemp("fuzz")
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(_config(url)))
    gateway = RunningGateway(load_settings(path, environ={}))
    gateway.start()
    try:
        client = Client(gateway)
        client.log_in()
        # Something to find: a team, a key in it, a user.
        for route, body in (
            ("/team/new", {"team_id": "org-1", "models": ["mock"]}),
            ("/key/generate", {"team_id": "org-1", "key_alias": "fuzz-key"}),
            ("/user/new", {"user_id": "user-1", "auto_create_key": False}),
            ("/budget/new", {"budget_id": "tier-1", "max_tokens_per_period": 1000}),
            ("/customer/new", {"user_id": "cust-1", "budget_id": "tier-1"}),
        ):
            status, raw = client.call(Route("POST", route, "master"), "", body, {})
            assert status == 200, raw
        yield client
    finally:
        gateway.stop()
        if schema is not None:
            asyncio.run(drop_schema(schema))


def test_the_fuzz_covers_every_administration_route_of_the_route_table(tmp_path: Path) -> None:
    """ROUTES is checked against the gateway's own route table: every management, account and
    dashboard endpoint (and browser token minting) is fuzzed or listed in NOT_FUZZED with a
    reason; no fuzzed route is missing from the table; each route's fuzz sends every body field
    /openapi.json documents for it (LiteLLM's ignored key fields aside) and every query parameter."""
    config = _config(None)
    config["bastion_settings"]["data_dir"] = str(tmp_path / "data")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    app = build_app(load_settings(tmp_path / "config.yaml", environ={}), migrate=False)
    table = {
        (endpoint.method, endpoint.path): endpoint
        for endpoint in app.table.endpoints
        if endpoint.tag in _FAMILIES or (endpoint.method, endpoint.path) in _BROWSER_ADMIN
    }
    fuzzed = {(route.method, route.path) for route in ROUTES}
    assert sorted(fuzzed - set(table)) == []
    assert sorted(set(NOT_FUZZED) - set(table)) == []
    assert sorted(set(table) - fuzzed - set(NOT_FUZZED)) == []
    for label, endpoint in table.items():
        if label in NOT_FUZZED:
            continue
        variants = [route for route in ROUTES if (route.method, route.path) == label]
        fields = {name for route in variants for name in route.fields}
        query = {name for route in variants for name in route.query}
        documented = set((endpoint.body or {}).get("properties", {})) - IGNORED_LITELLM_KEY_FIELDS
        assert sorted(documented - fields) == [], endpoint.label
        assert sorted(set(endpoint.query) - query) == [], endpoint.label


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_hostile_input_never_gets_a_5xx(fuzzed: Client, route: Route) -> None:
    """Whatever the body, query string or path parameter, the answer is a 2xx, 3xx or 4xx."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        path_value=_query_values if route.templated else st.just(""),
        body=_bodies(route.fields) if route.method != "GET" else st.just(None),
        query=_queries(route.query),
    )
    def fuzz(path_value: str, body: Any, query: dict[str, str]) -> None:
        status, raw = fuzzed.call(route, path_value, body, query)
        assert status < 500, f"{route} -> {status}: {raw[:500]!r}"

    fuzz()
