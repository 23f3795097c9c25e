"""The browser token-stream endpoints over plain HTTP, as the seed's proxy is called:
``POST /api/anthropic`` and ``/api/openai`` stream one ``data:`` line per token; ``POST /api/token``
mints short-lived tokens; CORS, the model allowlist, per-user rate limits and the size caps hold."""

from __future__ import annotations

import asyncio
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import MASTER_KEY, STATIC_KEY, standard_models
from support.backends import PG, REDIS, drop_schema, require
from support.identity import AUDIENCE, ISSUER, SigningKey, claims

HELLO = [{"role": "user", "content": "Hello"}]
ORIGIN = "https://app.example.com"


def call(
    url: str, body: Any = None, headers: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, bytes, dict[str, str]]:
    data = body if isinstance(body, bytes) or body is None else orjson.dumps(body)
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, err.read(), {k.lower(): v for k, v in err.headers.items()}


def lines(raw: bytes) -> list[Any]:
    """The ``data:`` payloads of a token stream: parsed JSON, or the string ``[DONE]``."""
    out: list[Any] = []
    for frame in raw.decode().split("\n\n"):
        if frame.startswith("data: "):
            payload = frame[6:]
            out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out


def browser(**settings: Any) -> dict[str, Any]:
    return {"models": ["claude", "gpt", "mock"], "cors_origins": [ORIGIN], "max_tokens": 64, **settings}


@pytest.fixture
def browser_gateway(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    return start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 0},
            "bastion_settings": {
                "static_keys": [{"key": STATIC_KEY, "models": ["gpt"]}],
                "browser": browser(user_limits={"rpm_limit": 2}),
            },
        }
    )


@pytest.fixture(params=["embedded", "scaled"])
def backed_gateway(
    request: pytest.FixtureRequest, start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> Iterator[RunningGateway]:
    """The browser gateway on each backend: SQLite and in-process limits, or PostgreSQL and Redis."""
    config: dict[str, Any] = {
        "model_list": standard_models(upstream.url),
        "router_settings": {"num_retries": 0},
        "bastion_settings": {"browser": browser(user_limits={"rpm_limit": 1})},
    }
    schema = None
    if request.param == "scaled":
        require(5432, "PostgreSQL")
        require(6379, "Redis")
        schema = "bt_" + secrets.token_hex(6)
        config["general_settings"] = {"database_url": f"{PG}?schema={schema}"}
        config["bastion_settings"]["redis_url"] = REDIS
    gateway = start_gateway(config)
    yield gateway
    gateway.stop()
    if schema is not None:
        asyncio.run(drop_schema(schema))


def test_limits_and_revocation_on_each_backend(backed_gateway: RunningGateway) -> None:
    """A user's rate limit, a token's budget and revocation by the minting key, shared or not."""
    gateway = backed_gateway
    user = "u-" + secrets.token_hex(4)  # Redis outlives the test: a fresh user each time
    assert stream(gateway, mint(gateway, user=user))[0] == 200
    status, _, headers = stream(gateway, mint(gateway, user=user))
    assert status == 429 and int(headers["retry-after"]) >= 1

    key = orjson.loads(
        call(gateway.url + "/key/generate", {"max_budget": 1}, {"authorization": f"Bearer {MASTER_KEY}"})[1]
    )["key"]
    starving = mint(gateway, key, max_budget=0.000001)
    assert stream(gateway, starving)[0] == 400
    token = mint(gateway, key)
    assert stream(gateway, token)[0] == 200
    status, _, _ = call(gateway.url + "/key/block", {"key": key}, {"authorization": f"Bearer {MASTER_KEY}"})
    assert status == 200
    status, raw, _ = stream(gateway, token)
    assert status == 401 and "no longer works" in orjson.loads(raw)["error"]["message"]


def mint(gateway: RunningGateway, key: str = MASTER_KEY, **body: Any) -> str:
    status, raw, headers = call(gateway.url + "/api/token", body, {"authorization": f"Bearer {key}"})
    assert status == 200, raw
    assert headers["cache-control"] == "no-store"
    token: str = orjson.loads(raw)["token"]
    return token


def stream(
    gateway: RunningGateway, key: str, *, path: str = "/api/anthropic", **body: Any
) -> tuple[int, bytes, dict[str, str]]:
    body = {"model": "claude", "messages": HELLO, "max_tokens": 4, **body}
    return call(gateway.url + path, body, {"authorization": f"Bearer {key}", "origin": ORIGIN})


@pytest.mark.parametrize(
    ("path", "model"), [("/api/anthropic", "claude"), ("/api/openai", "gpt"), ("/api/openai", "mock")]
)
def test_the_seed_token_format(browser_gateway: RunningGateway, path: str, model: str) -> None:
    """One data line per token: tokenId from 0, isFirst with ttfbMs, isLast on the last, [DONE]."""
    status, raw, headers = stream(browser_gateway, mint(browser_gateway), path=path, model=model)
    assert status == 200, raw
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["access-control-allow-origin"] == ORIGIN
    chunks = lines(raw)
    assert chunks[-1] == "[DONE]"
    tokens = chunks[:-1]
    assert [c["tokenId"] for c in tokens] == list(range(len(tokens))) and len(tokens) >= 1
    assert tokens[0]["isFirst"] is True and isinstance(tokens[0]["ttfbMs"], int)
    assert tokens[-1]["isLast"] is True
    assert all("isFirst" not in c and "ttfbMs" not in c for c in tokens[1:])
    assert all("isLast" not in c for c in tokens[:-1])
    if model != "mock":
        assert "".join(c["token"] for c in tokens) == "alpha bravo charlie delta"
    record = browser_gateway.next_record()
    assert (record.surface, record.principal_kind, record.status) == ("tokenstream", "browser_token", 200)


def test_mid_stream_failure_is_one_error_line(
    browser_gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """An upstream error after tokens flowed: one data line with {type, message, retryable}, no [DONE]."""
    upstream.script(Fault(error_after=3))
    status, raw, _ = stream(browser_gateway, MASTER_KEY, max_tokens=10)
    assert status == 200
    chunks = lines(raw)
    assert chunks[0]["isFirst"] is True
    # Every token generated before the failure reaches the page, the held one included.
    assert "".join(c["token"] for c in chunks[:-1]) == "alpha bravo charlie"
    assert all("isLast" not in c for c in chunks[:-1])
    error = chunks[-1]["error"]
    assert set(error) >= {"type", "message", "retryable"} and error["retryable"] is True
    assert "[DONE]" not in chunks


def test_errors_before_the_stream_are_json_with_retryable(
    browser_gateway: RunningGateway, upstream: MockUpstream
) -> None:
    upstream.script(Fault(status=503))
    status, raw, headers = stream(browser_gateway, MASTER_KEY)
    assert status == 503
    assert orjson.loads(raw)["error"]["retryable"] is True
    assert headers["access-control-allow-origin"] == ORIGIN  # the page may read why


@pytest.mark.parametrize("model", ["gemini", "no-such-model", None])
def test_models_outside_the_allowlist_are_400_invalid_model(
    browser_gateway: RunningGateway, model: Any
) -> None:
    status, raw, _ = stream(browser_gateway, MASTER_KEY, model=model)
    error = orjson.loads(raw)["error"]
    assert status == 400 and error["message"].startswith("Invalid model")
    assert error["retryable"] is False and "claude, gpt, mock" in error["message"]


def test_a_keys_own_model_list_applies_too(browser_gateway: RunningGateway) -> None:
    status, raw, _ = stream(browser_gateway, STATIC_KEY, model="claude")
    assert status == 400 and "use one of: gpt" in orjson.loads(raw)["error"]["message"]


def test_per_user_rate_limit_is_429_with_the_time_to_wait(browser_gateway: RunningGateway) -> None:
    """Two tokens of one user share the user's limit (rpm 2); another user is not affected."""
    first, second = mint(browser_gateway, user="ann"), mint(browser_gateway, user="ann")
    assert stream(browser_gateway, first)[0] == 200
    assert stream(browser_gateway, second)[0] == 200
    status, raw, headers = stream(browser_gateway, first)
    error = orjson.loads(raw)["error"]
    assert status == 429 and error["type"] == "rate_limit_error" and error["retryable"] is True
    assert int(headers["retry-after"]) >= 1 and error["retryAfter"] == int(headers["retry-after"])
    assert "retry-after" in headers["access-control-expose-headers"]
    assert stream(browser_gateway, mint(browser_gateway, user="bob"))[0] == 200


def test_end_user_jwts_get_their_own_limits_on_these_paths(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    key = SigningKey("ec")
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {
                "browser": browser(),
                "jwt_auth": {
                    "issuer": ISSUER,
                    "audience": AUDIENCE,
                    "jwk": key.public_jwk(),
                    "user_limits": {"rpm_limit": 1},
                },
            },
        }
    )
    token = key.sign(claims("carol"))
    assert stream(gateway, token)[0] == 200
    assert gateway.next_record().user_id == "carol"
    status, _, headers = stream(gateway, token)
    assert status == 429 and "retry-after" in headers


def test_cors_preflight_and_origins(browser_gateway: RunningGateway, upstream: MockUpstream) -> None:
    url = browser_gateway.url + "/api/openai"
    ask = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    status, _, headers = call(url, method="OPTIONS", headers={"origin": ORIGIN, **ask})
    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN and headers["vary"] == "Origin"
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "authorization, content-type"
    assert "access-control-allow-credentials" not in headers

    status, _, headers = call(url, method="OPTIONS", headers={"origin": "https://evil.example", **ask})
    assert status == 403 and not any(h.startswith("access-control-") for h in headers)
    status, _, headers = call(
        url, method="OPTIONS", headers={"origin": ORIGIN, **ask, "access-control-request-headers": "x-debug"}
    )
    assert status == 403

    body = {"model": "gpt", "messages": HELLO}
    status, raw, headers = call(
        url, body, {"authorization": f"Bearer {MASTER_KEY}", "origin": "https://evil.example"}
    )
    assert status == 403 and "cors_origins" in orjson.loads(raw)["error"]["message"]
    assert "access-control-allow-origin" not in headers
    assert upstream.requests == []  # refused before any provider was called

    host = browser_gateway.url.removeprefix("http://")
    status, _, headers = call(
        url, body, {"authorization": f"Bearer {MASTER_KEY}", "origin": f"http://{host}"}
    )
    assert status == 200  # the gateway's own pages are same-origin


def test_never_star_with_credentials(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {"browser": browser(cors_origins=[ORIGIN], cors_allow_credentials=True)},
        }
    )
    status, _, headers = stream(gateway, MASTER_KEY)
    assert status == 200
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-credentials"] == "true"


def test_size_caps(browser_gateway: RunningGateway) -> None:
    status, raw, _ = stream(browser_gateway, MASTER_KEY, max_tokens=65)
    assert status == 400 and "cap of 64" in orjson.loads(raw)["error"]["message"]
    status, raw, _ = stream(browser_gateway, MASTER_KEY, messages=[{"role": "user", "content": "x" * 70_000}])
    assert status == 413 and "max_request_bytes" in orjson.loads(raw)["error"]["message"]
    status, raw, _ = stream(browser_gateway, MASTER_KEY, tools=[{"name": "t"}])
    assert status == 400 and "'tools'" in orjson.loads(raw)["error"]["message"]


def test_no_max_tokens_means_the_cap(browser_gateway: RunningGateway, upstream: MockUpstream) -> None:
    body = {"model": "claude", "messages": HELLO}
    status, _, _ = call(
        browser_gateway.url + "/api/anthropic", body, {"authorization": f"Bearer {MASTER_KEY}"}
    )
    assert status == 200
    assert upstream.requests[-1].body["max_tokens"] == 64


def test_minting_rules(browser_gateway: RunningGateway) -> None:
    url = browser_gateway.url + "/api/token"
    assert call(url, {})[0] == 401
    status, raw, _ = call(url, {"ttl_seconds": 3600}, {"authorization": f"Bearer {MASTER_KEY}"})
    assert status == 400 and "token_max_ttl_seconds" in orjson.loads(raw)["error"]["message"]
    status, raw, _ = call(url, {"models": ["gemini"]}, {"authorization": f"Bearer {MASTER_KEY}"})
    assert status == 400 and orjson.loads(raw)["error"]["message"].startswith("Invalid model")
    status, raw, _ = call(url, {"models": ["claude"]}, {"authorization": f"Bearer {STATIC_KEY}"})
    assert status == 403  # the static key may use only gpt
    token = mint(browser_gateway)
    status, raw, _ = call(url, {}, {"authorization": f"Bearer {token}"})
    assert status == 403  # tokens mint no tokens: a browser token works only on the streams
    assert "browser token" in orjson.loads(raw)["error"]["message"]
    answer = orjson.loads(
        call(url, {"models": ["claude"], "ttl_seconds": 60}, {"authorization": f"Bearer {MASTER_KEY}"})[1]
    )
    assert answer["expires_in"] == 60 and answer["models"] == ["claude"]
    assert stream(browser_gateway, answer["token"], path="/api/openai", model="gpt")[0] == 400


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize(
    ("path", "body", "surface"),
    [
        ("/v1/chat/completions", {"model": "gpt", "messages": HELLO, "max_tokens": 5000}, "openai"),
        ("/v1/chat/completions", {"model": "gpt", "messages": HELLO, "tools": TOOLS}, "openai"),
        ("/v1/chat/completions", {"model": "mock", "messages": HELLO, "stream": True}, "openai"),
        ("/v1/messages", {"model": "claude", "messages": HELLO, "max_tokens": 5000}, "anthropic"),
        ("/v1/messages/count_tokens", {"model": "claude", "messages": HELLO}, "anthropic"),
        ("/v1beta/models/gpt:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}, "gemini"),
        ("/v1beta/models/gpt:streamGenerateContent", {"contents": [{"parts": [{"text": "hi"}]}]}, "gemini"),
        ("/v1/embeddings", {"model": "gpt", "input": "hi"}, "openai"),
        ("/key/info", None, "openai"),
        ("/v1/models", None, "openai"),
    ],
)
def test_browser_tokens_are_refused_outside_the_browser_endpoints(
    browser_gateway: RunningGateway, upstream: MockUpstream, path: str, body: Any, surface: str
) -> None:
    """Issue 12, item 9: a bt_ token minted for max_tokens 64 is no key for /v1: 403, in the
    caller's format, naming why, and nothing reaches the upstream."""
    token = mint(browser_gateway, models=["gpt", "claude", "mock"])
    method = "GET" if body is None else "POST"
    before = len(upstream.requests)
    status, raw, _ = call(browser_gateway.url + path, body, {"authorization": f"Bearer {token}"}, method)
    assert status == 403, raw
    error = orjson.loads(raw)
    message = error["error"]["message"]
    assert "browser token" in message and "browser token-stream endpoints" in message
    if surface == "anthropic":
        assert error["type"] == "error" and error["error"]["type"] == "permission_error"
    elif surface == "gemini":
        assert error["error"]["status"] == "PERMISSION_DENIED"
    else:
        assert error["error"]["code"] == "browser_token_not_allowed"
    assert len(upstream.requests) == before
    assert stream(browser_gateway, token)[0] == 200  # the same token still works where it belongs


def test_tampered_tokens_are_refused(browser_gateway: RunningGateway) -> None:
    token = mint(browser_gateway, models=["claude"])
    body, _, signature = token.partition(".")
    forged = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
    status, raw, _ = stream(browser_gateway, forged)
    assert status == 401 and token not in raw.decode()


def test_token_budget_and_spend_go_to_the_minting_key(browser_gateway: RunningGateway) -> None:
    status, raw, _ = call(
        browser_gateway.url + "/key/generate", {"max_budget": 10}, {"authorization": f"Bearer {MASTER_KEY}"}
    )
    key = orjson.loads(raw)["key"]
    token = mint(browser_gateway, key, max_budget=0.5, user="dana")
    assert stream(browser_gateway, token)[0] == 200
    record = browser_gateway.next_record()
    assert record.key_hash is not None and record.user_id == "dana" and record.cost_usd > 0
    status, raw, _ = call(
        browser_gateway.url + "/api/token", {"max_budget": 11}, {"authorization": f"Bearer {key}"}
    )
    assert status == 403
    starving = mint(browser_gateway, key, max_budget=0.000001)
    status, raw, _ = stream(browser_gateway, starving)
    assert status == 400 and orjson.loads(raw)["error"]["type"] == "billing_error"


def test_paths_are_configurable(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> None:
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {
                "browser": browser(anthropic_path="/chat/claude", token_path="/auth/browser-token")
            },
        }
    )
    token = mint_at(gateway, "/auth/browser-token")
    assert stream(gateway, token, path="/chat/claude")[0] == 200
    assert stream(gateway, token, path="/api/anthropic")[0] == 404


def mint_at(gateway: RunningGateway, path: str) -> str:
    status, raw, _ = call(gateway.url + path, {}, {"authorization": f"Bearer {MASTER_KEY}"})
    assert status == 200
    token: str = orjson.loads(raw)["token"]
    return token


def test_demo_files_are_served_from_memory(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, tmp_path: Any
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>hi</h1>")
    (site / "app.js").write_text("export {};")
    (tmp_path / "secret.txt").write_text("nope")
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {"browser": {"static_files": {"/demo": str(site)}}},
        }
    )
    status, _, headers = call(gateway.url + "/demo", method="GET")
    assert status == 200 and headers["content-type"].startswith("text/html")  # followed the 308 to /demo/
    status, raw, headers = call(gateway.url + "/demo/app.js", method="GET")
    assert status == 200 and raw == b"export {};" and headers["content-type"].startswith("text/javascript")
    assert headers["x-content-type-options"] == "nosniff"
    assert call(gateway.url + "/demo/../secret.txt", method="GET")[0] == 404
    assert call(gateway.url + "/demo/%2e%2e/secret.txt", method="GET")[0] == 404
    assert call(gateway.url + "/demo/missing.js", method="GET")[0] == 404


def test_every_group_when_no_allowlist(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """With no ``models`` allowlist, any group streams behind either path (here Gemini's)."""
    gateway = start_gateway(
        {"model_list": standard_models(upstream.url), "bastion_settings": {"browser": {}}}
    )
    body = {"model": "gemini", "messages": HELLO, "max_tokens": 4}
    for path in ("/api/anthropic", "/api/openai"):
        status, raw, headers = call(gateway.url + path, body, {"authorization": f"Bearer {MASTER_KEY}"})
        assert status == 200, raw
        tokens = lines(raw)[:-1]
        assert "".join(t["token"] for t in tokens) == "alpha bravo charlie delta"
        assert "access-control-allow-origin" not in headers  # no Origin sent: not a page
    assert stream(gateway, MASTER_KEY, model="gemini")[0] == 403  # and no page origin is listed
    assert upstream.requests[-1].path.startswith("/v1beta/models/gemini-2.5-flash")
