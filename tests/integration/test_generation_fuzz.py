"""Property-based fuzz of every generation route: hostile input never gets a 5xx (issue 12, item 5).

The routes a client generates through (OpenAI chat completions and embeddings, Anthropic messages
and count_tokens, Gemini generateContent / streamGenerateContent / countTokens / embedContent /
batchEmbedContents, the ``/v2`` account chat and its stream, the browser token streams) get, on a
SQLite file and on a PostgreSQL schema, bodies that are mostly valid with one field (or one
message field, or one content part) replaced by what breaks parsers, translators and databases:
NUL characters, numbers beyond 64 bits, ``1e308``, JSON nested hundreds of levels deep, wrong
types, unknown fields (the hostile values of test_admin_fuzz.py). Each call goes to a model group
served by the mock upstream on a real socket through pass-through and translation (``gpt``,
``claude``, ``gemini``) or by the in-process ``mock`` provider. The answer must be below 500, and
a stream must not end in Bastion's own internal error.

``BASTION_FUZZ_EXAMPLES`` sets the examples per route and backend (default 20, as the admin fuzz).
A test checks the list against the route table, so a new generation route cannot be left out.
"""

from __future__ import annotations

import asyncio
import json
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
from test_admin_fuzz import _BROWSER_ADMIN, EXAMPLES, _query_values, _values, encode

from bastion.app import build_app
from bastion.settings import load_settings
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY
from support.accounts import ENCRYPTION_KEY, SUPERUSER, SUPERUSER_PASSWORD
from support.backends import PG, drop_schema, require
from support.keepalive import KeepAliveClient

ORIGIN = "https://app.example.com"
MODELS = ("gpt", "claude", "gemini", "mock")
#: What Bastion answers when something escapes its error handling (a bug, whatever the input).
_INTERNAL = (b"failed unexpectedly", b"failed while handling this request", b"stream failed")

_OPENAI_MESSAGE_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id", "refusal")
_ANTHROPIC_MESSAGE_FIELDS = ("role", "content")
_GEMINI_CONTENT_FIELDS = ("role", "parts")


@dataclass(frozen=True)
class GenRoute:
    path: str
    #: ``key`` (the master key), ``user`` (an account's access token) or ``browser`` (a bt_ token).
    auth: str
    family: str
    fields: tuple[str, ...]

    def __str__(self) -> str:
        return self.path


_OPENAI_CHAT = (
    "model", "messages", "stream", "max_tokens", "max_completion_tokens", "tools", "tool_choice",
    "temperature", "top_p", "n", "stop", "user", "metadata", "response_format", "stream_options",
    "reasoning_effort", "seed", "logit_bias", "logprobs", "top_logprobs", "parallel_tool_calls",
    "cache", "frequency_penalty", "presence_penalty", "functions", "function_call", "modalities",
)  # fmt: skip
_ANTHROPIC = (
    "model", "messages", "max_tokens", "system", "stream", "tools", "tool_choice", "thinking",
    "metadata", "stop_sequences", "temperature", "top_k", "top_p", "cache",
)  # fmt: skip
_GEMINI = (
    "contents", "systemInstruction", "generationConfig", "tools", "toolConfig", "safetySettings",
    "cachedContent",
)  # fmt: skip

_EMBED = ("model", "input", "encoding_format", "dimensions", "user")
_RESPONSES = (
    "model", "input", "instructions", "stream", "max_output_tokens", "tools", "tool_choice",
    "previous_response_id", "store", "temperature", "top_p", "text", "reasoning", "metadata",
    "user", "parallel_tool_calls", "truncation", "include",
)  # fmt: skip
_COUNT = ("model", "messages", "system", "tools", "thinking")
_GEMINI_EMBED = ("content", "taskType", "title", "outputDimensionality")
_V2 = ("model_id", "messages", "conversation_id", "temperature", "max_tokens", "top_p")

ROUTES = [
    GenRoute("/v1/chat/completions", "key", "openai", _OPENAI_CHAT),
    GenRoute("/v1/embeddings", "key", "embeddings", _EMBED),
    GenRoute("/v1/messages", "key", "anthropic", _ANTHROPIC),
    GenRoute("/v1/messages/count_tokens", "key", "anthropic", _COUNT),
    GenRoute("/v1beta/models/{model}:generateContent", "key", "gemini", _GEMINI),
    GenRoute("/v1beta/models/{model}:streamGenerateContent", "key", "gemini", _GEMINI),
    GenRoute("/v1beta/models/{model}:countTokens", "key", "gemini", ("contents", "generateContentRequest")),
    GenRoute("/v1beta/models/{model}:embedContent", "key", "gemini_embed", _GEMINI_EMBED),
    GenRoute("/v1beta/models/{model}:batchEmbedContents", "key", "gemini_batch", ("requests",)),
    GenRoute("/v2/llm/chat/completions", "user", "v2", _V2),
    GenRoute("/v2/llm/chat/completions/stream", "user", "v2", _V2),
    GenRoute("/api/anthropic", "browser", "anthropic", _ANTHROPIC),
    GenRoute("/api/openai", "browser", "openai", _OPENAI_CHAT),
    GenRoute("/v1/responses", "key", "responses", _RESPONSES),
]  # fmt: skip
#: Routes fuzzed when the gateway has them (a surface landing on another branch).
OPTIONAL = {"/v1/responses"}


def _base(route: GenRoute, model: str) -> dict[str, Any]:
    """A valid body for ``route`` on ``model``: the hostile value then replaces one part of it."""
    hello = [{"role": "user", "content": "hello"}]
    family = route.family
    if family == "openai":
        return {"model": model, "messages": hello, "max_tokens": 5}
    if family == "anthropic":
        return {"model": model, "messages": hello, "max_tokens": 5}
    if family == "embeddings":
        return {"model": model, "input": "hello"}
    if family == "gemini":
        return {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    if family == "gemini_embed":
        return {"content": {"parts": [{"text": "hello"}]}}
    if family == "gemini_batch":
        return {"requests": [{"model": f"models/{model}", "content": {"parts": [{"text": "hello"}]}}]}
    if family == "responses":
        return {"model": model, "input": hello, "max_output_tokens": 16}
    return {"model_id": model, "messages": hello, "max_tokens": 5}


def _message_fields(route: GenRoute) -> tuple[str, ...]:
    if route.family in ("openai", "v2"):
        return _OPENAI_MESSAGE_FIELDS
    if route.family == "responses":
        return ("role", "content", "type", "id", "call_id", "output")
    if route.family == "anthropic":
        return _ANTHROPIC_MESSAGE_FIELDS
    if route.family == "gemini":
        return _GEMINI_CONTENT_FIELDS
    return ()


def _bodies(route: GenRoute) -> st.SearchStrategy[Any]:
    """Mostly a valid body with one hostile field, message field or content part; else several
    hostile fields, or a body that is all hostile."""
    model = st.sampled_from(MODELS)
    fields = st.sampled_from(route.fields)

    def one(model: str, name: str, value: Any) -> dict[str, Any]:
        return {**_base(route, model), name: value}

    def in_message(model: str, name: str, value: Any) -> dict[str, Any]:
        body = _base(route, model)
        key = {"gemini": "contents", "responses": "input"}.get(route.family, "messages")
        body[key] = [{**body[key][0], name: value}]
        return body

    def in_part(model: str, value: Any) -> dict[str, Any]:
        body = _base(route, model)
        if route.family == "gemini":
            body["contents"] = [{"role": "user", "parts": [value]}]
        elif route.family == "responses":
            body["input"] = [{"role": "user", "content": [value]}]
        else:
            body["messages"] = [{"role": "user", "content": [value]}]
        return body

    def several(model: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {**_base(route, model), **extra}

    choices = [
        st.builds(one, model, fields, _values),
        st.builds(one, model, fields, _values),
        st.builds(several, model, st.fixed_dictionaries({}, optional=dict.fromkeys(route.fields, _values))),
        st.builds(several, model, st.dictionaries(st.text(max_size=12), _values, max_size=3)),
        _values,
    ]
    message_fields = _message_fields(route)
    if message_fields:
        choices.append(st.builds(in_message, model, st.sampled_from(message_fields), _values))
        choices.append(st.builds(in_part, model, _values))
    return st.one_of(*choices)


class Client(KeepAliveClient):
    """One keep-alive connection to the gateway, with a key, an account token and a browser token."""

    def __init__(self, gateway: RunningGateway) -> None:
        super().__init__(gateway)
        self.user_token = ""
        self.browser_token = ""

    def sign_in(self) -> None:
        self.user_token = self.account_token(SUPERUSER, SUPERUSER_PASSWORD)
        status, raw = self.send(
            "POST",
            "/api/token",
            b"{}",
            {"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
        )
        assert status == 200, raw
        self.browser_token = json.loads(raw)["token"]

    def call(self, route: GenRoute, model: str, body: Any) -> tuple[int, bytes]:
        path = route.path.replace("{model}", urllib.parse.quote(model, safe=""))
        headers = {"content-type": "application/json"}
        if route.auth == "key":
            headers["authorization"] = f"Bearer {MASTER_KEY}"
        elif route.auth == "user":
            headers["authorization"] = f"Bearer {self.user_token}"
        else:
            headers["authorization"] = f"Bearer {self.browser_token}"
            headers["origin"] = ORIGIN
        return self.send("POST", path, encode(body).encode(), headers)


def _config(upstream: str, database_url: str | None) -> dict[str, Any]:
    def dep(group: str, model: str, base: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model}
        if base is not None:
            params |= {"api_base": base, "api_key": UPSTREAM_KEY}
        return {"model_name": group, "litellm_params": params}

    config: dict[str, Any] = {
        "environment_variables": {
            "FIRST_SUPERUSER": SUPERUSER,
            "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
            "ENCRYPTION_KEY": ENCRYPTION_KEY,
        },
        "model_list": [
            dep("gpt", "openai/gpt-4.1-mini", upstream + "/v1"),
            dep("claude", "anthropic/claude-sonnet-4-5", upstream),
            dep("gemini", "gemini/gemini-2.5-flash", upstream),
            dep("mock", "mock/echo", None),
            dep("embed", "openai/text-embedding-3-small", upstream + "/v1"),
        ],
        "router_settings": {"num_retries": 0, "allowed_fails": 1_000_000},
        "general_settings": {"master_key": MASTER_KEY},
        "bastion_settings": {
            "accounts": {
                "jwt_secret": "fuzz-signing-secret-0123456789abcdefghij",
                "login_slowdown_seconds": 0,
                "login_max_failures": 1_000_000,
            },
            "browser": {"models": list(MODELS), "cors_origins": [ORIGIN]},
        },
    }
    if database_url is not None:
        config["general_settings"]["database_url"] = database_url
    return config


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream_server: MockUpstream
) -> Iterator[Client]:
    schema = None
    url = None
    if request.param == "postgresql":
        require(5432, "PostgreSQL")
        schema = "gfuzz_" + secrets.token_hex(6)
        url = f"{PG}?schema={schema}"
    folder: Path = tmp_path_factory.mktemp("gfuzz")
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(_config(upstream_server.url, url)))
    gateway = RunningGateway(load_settings(path, environ={}))
    gateway.start()
    try:
        client = Client(gateway)
        client.sign_in()
        yield client
    finally:
        gateway.stop()
        if schema is not None:
            asyncio.run(drop_schema(schema))


def _generation_endpoints(tmp_path: Path) -> dict[str, Any]:
    """The route table's generation endpoints (one path per handler: the others are aliases)."""
    config = _config("http://127.0.0.1:9", None)
    config["bastion_settings"]["data_dir"] = str(tmp_path / "data")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    app = build_app(load_settings(tmp_path / "config.yaml", environ={}), migrate=False)
    found: dict[str, Any] = {}
    handlers: list[Any] = []
    for endpoint in app.table.endpoints:
        generation = endpoint.method == "POST" and (
            (endpoint.inline_auth and endpoint.tag in ("openai", "anthropic", "gemini"))
            or (endpoint.tag == "tokenstream" and (endpoint.method, endpoint.path) not in _BROWSER_ADMIN)
            or endpoint.path.startswith("/v2/llm/chat/")
        )
        if generation and endpoint.handler not in handlers:
            handlers.append(endpoint.handler)
            found[endpoint.path.replace("{model:path}", "{model}")] = endpoint
    return found


def test_the_fuzz_covers_every_generation_route_of_the_route_table(tmp_path: Path) -> None:
    """Every generation handler of the route table is fuzzed (on one of its paths), with every
    body field /openapi.json documents for it."""
    table = _generation_endpoints(tmp_path)
    fuzzed = {route.path: route for route in ROUTES}
    by_handler = {
        path: endpoint
        for path, endpoint in table.items()
        if not any(endpoint.handler == table[p].handler for p in fuzzed if p in table)
    }
    assert sorted(by_handler) == [], "generation routes missing from the fuzz"
    assert sorted(set(fuzzed) - set(table) - OPTIONAL) == []
    for path, route in fuzzed.items():
        if path not in table:
            continue
        documented = set((table[path].body or {}).get("properties", {}))
        assert sorted(documented - set(route.fields)) == [], path


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_hostile_generation_input_never_gets_a_5xx(fuzzed: Client, route: GenRoute) -> None:
    """Whatever the body (and, for Gemini, the model in the path), the answer is below 500."""
    if route.path in OPTIONAL and fuzzed.call(route, "mock", _base(route, "mock"))[0] == 404:
        pytest.skip(f"{route.path} is not a route of this gateway")

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        model=st.one_of(st.sampled_from(MODELS), _query_values) if "{model}" in route.path else st.just(""),
        body=_bodies(route),
    )
    def fuzz(model: str, body: Any) -> None:
        status, raw = fuzzed.call(route, model, body)
        assert status < 500, f"{route} -> {status}: {raw[:500]!r}"
        assert not any(mark in raw for mark in _INTERNAL), f"{route} -> {status}: {raw[:500]!r}"

    fuzz()
