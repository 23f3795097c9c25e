"""End users arriving with an identity provider's token, through the official SDKs, as the seeds do.

``storycad-cloudflare-proxy.md``: the client sends the user's JWT; the gateway checks it against a
public JWK and forwards. ``cloud-code-centralized-llm.md``: one central provider key, and every user
rate-limited on their own with a friendly message. Here the token is simply the SDK's ``api_key``.
"""

from __future__ import annotations

import asyncio
import secrets
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google.genai import errors as genai_errors
from test_errors_and_auth import raw_post
from test_sdk_passthrough import anthropic_client, genai_client, openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY, standard_models
from support.backends import PG, REDIS, drop_schema, require
from support.identity import AUDIENCE, ISSUER, JwksServer, SigningKey, claims, forge

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def idp_keys() -> dict[str, SigningKey]:
    return {kind: SigningKey(kind) for kind in ("rsa", "ec", "ed25519")}


def jwt_auth(keys: list[SigningKey], **extra: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks": orjson.dumps({"keys": [key.public_jwk() for key in keys]}).decode(),
        "team_claim": "org.team",
        "models_claim": "models",
    } | extra


@pytest.fixture
def jwt_gateway(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, idp_keys: dict[str, SigningKey]
) -> RunningGateway:
    return start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 0},
            "bastion_settings": {"jwt_auth": jwt_auth(list(idp_keys.values()))},
        }
    )


def test_openai_sdk_with_a_token_as_the_key(
    jwt_gateway: RunningGateway, upstream: MockUpstream, idp_keys: dict[str, SigningKey]
) -> None:
    """Bearer token in, provider key out: the upstream never sees the end user's token."""
    token = idp_keys["rsa"].sign(claims("alice", org={"team": "writers"}))
    reply = openai_client(jwt_gateway, token).chat.completions.create(
        model="gpt", messages=HELLO, max_tokens=3
    )
    assert reply.choices[0].message.content
    sent = upstream.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert token not in orjson.dumps(sent.headers).decode()
    record = jwt_gateway.next_record()
    assert (record.principal_kind, record.user_id, record.team_id) == ("jwt", "alice", "writers")


def test_anthropic_sdk_with_a_token_as_the_key(
    jwt_gateway: RunningGateway, upstream: MockUpstream, idp_keys: dict[str, SigningKey]
) -> None:
    """x-api-key carries the token (an EC-signed one here) on the Anthropic surface."""
    token = idp_keys["ec"].sign(claims("bob"))
    reply = anthropic_client(jwt_gateway, token).messages.create(model="claude", max_tokens=3, messages=HELLO)
    assert reply.content and upstream.requests[-1].headers["x-api-key"] == UPSTREAM_KEY
    assert jwt_gateway.next_record().user_id == "bob"


def test_gemini_sdk_with_a_token_as_the_key(
    jwt_gateway: RunningGateway, idp_keys: dict[str, SigningKey]
) -> None:
    """x-goog-api-key carries the token (an Ed25519-signed one here) on the Gemini surface."""
    token = idp_keys["ed25519"].sign(claims("carol"))
    client = genai_client(jwt_gateway, token)  # held: the SDK closes its HTTP client with the Client
    reply = client.models.generate_content(model="gemini", contents="hello")
    assert reply.text
    assert jwt_gateway.next_record().user_id == "carol"


def test_bad_tokens_get_401_with_the_reason_in_each_surface_format(
    jwt_gateway: RunningGateway, idp_keys: dict[str, SigningKey]
) -> None:
    """Expired on OpenAI, alg none on Anthropic, HS256-with-the-public-key on Gemini: each a 401
    in its own envelope, saying why, never repeating the token."""
    rsa = idp_keys["rsa"]
    expired = rsa.sign(claims(lifetime=-600))
    with pytest.raises(openai.AuthenticationError) as openai_err:
        openai_client(jwt_gateway, expired).chat.completions.create(model="gpt", messages=HELLO)
    assert "expired" in openai_err.value.message and expired not in str(openai_err.value.body)
    assert openai_err.value.code == "token_expired"

    unsigned = forge({"alg": "none", "kid": rsa.kid}, claims("mallory"))
    with pytest.raises(anthropic.AuthenticationError) as anthropic_err:
        anthropic_client(jwt_gateway, unsigned).messages.create(model="claude", max_tokens=1, messages=HELLO)
    body: Any = anthropic_err.value.body
    assert body["error"]["type"] == "authentication_error" and "unsigned" in body["error"]["message"]

    confused = forge({"alg": "HS256", "kid": rsa.kid}, claims("mallory"), rsa.public_pem())
    gemini = genai_client(jwt_gateway, confused)
    with pytest.raises(genai_errors.ClientError) as gemini_err:
        gemini.models.generate_content(model="gemini", contents="x")
    assert gemini_err.value.code == 401 and "HMAC" in str(gemini_err.value.message)
    assert confused.split(".")[2] not in str(gemini_err.value.details)


def test_wrong_audience_over_plain_http(jwt_gateway: RunningGateway, idp_keys: dict[str, SigningKey]) -> None:
    token = idp_keys["rsa"].sign(claims(aud="someone-else"))
    status, body, _ = raw_post(
        jwt_gateway.url + "/v1/chat/completions",
        orjson.dumps({"model": "gpt", "messages": HELLO}),
        {"authorization": f"Bearer {token}"},
    )
    assert status == 401 and "audience" in body["error"]["message"]
    assert token not in jwt_gateway.log_text()


def test_models_claim_limits_what_a_user_may_call(
    jwt_gateway: RunningGateway, idp_keys: dict[str, SigningKey]
) -> None:
    token = idp_keys["rsa"].sign(claims("dana", models=["gpt"]))
    client = openai_client(jwt_gateway, token)
    client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="claude", messages=HELLO, max_tokens=1)
    listed = [model.id for model in client.models.list()]
    assert listed == ["gpt"]


def test_a_token_is_no_admin_key(jwt_gateway: RunningGateway, idp_keys: dict[str, SigningKey]) -> None:
    """Management routes stay with the master key."""
    token = idp_keys["rsa"].sign(claims("eve"))
    status, body, _ = raw_post(jwt_gateway.url + "/key/generate", b"{}", {"authorization": f"Bearer {token}"})
    assert status == 403, body


def test_keys_and_tokens_side_by_side(jwt_gateway: RunningGateway) -> None:
    """Gateway keys keep the key path: the master key works, a JWT-shaped sk- string is just a bad key."""
    openai_client(jwt_gateway, MASTER_KEY).chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)
    with pytest.raises(openai.AuthenticationError) as err:
        openai_client(jwt_gateway, "sk-abc.def.ghi").chat.completions.create(model="gpt", messages=HELLO)
    assert "not valid for this gateway" in err.value.message


def test_no_token_at_all_is_refused_even_without_a_master_key(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, idp_keys: dict[str, SigningKey]
) -> None:
    """A gateway that takes end-user tokens is never open to anonymous callers."""
    gw = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "general_settings": {"master_key": None},
            "bastion_settings": {"jwt_auth": jwt_auth([idp_keys["rsa"]])},
        }
    )
    status, body, _ = raw_post(
        gw.url + "/v1/chat/completions", orjson.dumps({"model": "gpt", "messages": HELLO}), {}
    )
    assert status == 401 and "No API key" in body["error"]["message"]


def test_keys_from_a_jwks_url(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> None:
    """The gateway fetches the provider's JWKS at start-up, then again when the provider rotates."""
    first, second = SigningKey("ec", kid="k1"), SigningKey("rsa", kid="k2")
    with JwksServer(first).running() as idp:
        config = jwt_auth([], jwks_url=idp.url, jwks_min_refresh_seconds=0)
        del config["jwks"]
        gw = start_gateway(
            {"model_list": standard_models(upstream.url), "bastion_settings": {"jwt_auth": config}}
        )
        assert idp.fetches == 1
        client = openai_client(gw, first.sign(claims("frank")))
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)
        assert idp.fetches == 1
        idp.keys = [first, second]
        openai_client(gw, second.sign(claims("frank"))).chat.completions.create(
            model="gpt", messages=HELLO, max_tokens=1
        )
        assert idp.fetches == 2
        gw.stop()


@pytest.fixture(params=["embedded", "scaled"])
def limited_gateway(
    request: pytest.FixtureRequest,
    start_gateway: Callable[..., RunningGateway],
    upstream: MockUpstream,
    idp_keys: dict[str, SigningKey],
) -> Iterator[RunningGateway]:
    """Two requests a minute for every end user, on each backend (memory; Redis and PostgreSQL)."""
    config: dict[str, Any] = {
        "model_list": standard_models(upstream.url),
        "router_settings": {"num_retries": 0},
        "bastion_settings": {"jwt_auth": jwt_auth([idp_keys["rsa"]], user_limits={"rpm_limit": 2})},
    }
    schema = None
    if request.param == "scaled":
        require(5432, "PostgreSQL")
        require(6379, "Redis")
        schema = "bt_" + secrets.token_hex(6)
        config["general_settings"] = {"database_url": f"{PG}?schema={schema}"}
        config["bastion_settings"]["redis_url"] = REDIS
    gw = start_gateway(config)
    yield gw
    gw.stop()
    if schema is not None:
        asyncio.run(drop_schema(schema))


def test_every_end_user_has_their_own_rate_limit_and_spend(
    limited_gateway: RunningGateway, idp_keys: dict[str, SigningKey]
) -> None:
    """The third call in a minute gets a friendly 429 with retry-after; another user is unaffected;
    each call is logged under its user and team."""
    rsa = idp_keys["rsa"]
    user = "user-" + secrets.token_hex(4)  # Redis is shared between runs: a fresh user each time
    alice = openai_client(limited_gateway, rsa.sign(claims(user, org={"team": "writers"})))
    for _ in range(2):
        alice.chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)
    with pytest.raises(openai.RateLimitError) as refused:
        alice.chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)
    assert refused.value.status_code == 429
    assert float(refused.value.response.headers["retry-after"]) >= 1
    message = refused.value.message
    assert "Rate limit reached for this end user: 2 requests per minute" in message
    assert "Please try again in" in message
    other = openai_client(limited_gateway, rsa.sign(claims("other-" + secrets.token_hex(4))))
    other.chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)

    assert limited_gateway.app is not None and limited_gateway.app.spend_writer is not None
    limited_gateway.call(limited_gateway.app.spend_writer.flush())
    request = urllib.request.Request(
        f"{limited_gateway.url}/spend/logs?user_id={user}&summarize=false",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    with urllib.request.urlopen(request) as resp:
        rows = orjson.loads(resp.read())
    assert len(rows) == 3  # two answered, one refused
    assert {row["user"] for row in rows} == {user} and {row["team_id"] for row in rows} == {"writers"}
    assert sorted(row["status"] for row in rows) == ["failure", "success", "success"]
    assert sum(row["spend"] for row in rows) > 0


def test_an_end_user_budget_is_enforced(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, idp_keys: dict[str, SigningKey]
) -> None:
    """A budget too small for one call refuses it with LiteLLM's budget_exceeded."""
    gw = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {
                "jwt_auth": jwt_auth([idp_keys["rsa"]], user_limits={"max_budget": 0.0000001})
            },
        }
    )
    client = openai_client(gw, idp_keys["rsa"].sign(claims("thrifty")))
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=50)
    assert refused.value.code == "budget_exceeded" and "end user" in refused.value.message


def test_an_end_user_budget_survives_a_restart(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, idp_keys: dict[str, SigningKey]
) -> None:
    """A new gateway process counts what an end user already spent from the spend logs."""
    models = standard_models(upstream.url)
    models[0]["model_info"] = {"input_cost_per_token": 1.0, "output_cost_per_token": 1.0}  # $1 a token

    def config(budget: float) -> dict[str, Any]:
        limits = {"max_budget": budget, "budget_duration": "30d"}
        return {
            "model_list": models,
            "bastion_settings": {"jwt_auth": jwt_auth([idp_keys["rsa"]], user_limits=limits)},
        }

    first = start_gateway(config(1_000_000))
    spender = idp_keys["rsa"].sign(claims("spender"))
    spent = 0.0
    while spent < 40:  # well above what one fresh call reserves (about a dozen tokens)
        openai_client(first, spender).chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)
        spent += first.next_record().cost_usd
    first.stop()  # drains the spend writer into the SQLite file next to the config

    second = start_gateway(config(spent))
    newcomer = openai_client(second, idp_keys["rsa"].sign(claims("newcomer")))
    newcomer.chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)
    with pytest.raises(openai.BadRequestError) as refused:
        openai_client(second, spender).chat.completions.create(model="gpt", messages=HELLO, max_tokens=1)
    assert refused.value.code == "budget_exceeded"
