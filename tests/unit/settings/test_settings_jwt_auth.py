"""``bastion_settings.jwt_auth``: keys from four places, and every unsafe choice refused at start-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import Settings, load_settings
from bastion.settings.jwk_rules import ASYMMETRIC_ALGORITHMS
from support.identity import SigningKey

Write = Callable[..., Path]

GROUPS = """\
model_list:
  - model_name: gpt
    litellm_params: {model: mock/a}
  - model_name: claude
    litellm_params: {model: mock/b}
"""


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey("ec")


def jwt_section(body: str) -> str:
    indented = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f"bastion_settings:\n  jwt_auth:\n{indented}\n"


def load(write_config: Write, body: str, environ: dict[str, str] | None = None) -> Settings:
    return load_settings(write_config(GROUPS + jwt_section(body)), environ=environ or {})


def error_of(write_config: Write, body: str) -> str:
    path = write_config(GROUPS + jwt_section(body))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    return str(caught.value).replace(str(path), "x.yaml")


def inline(jwk: dict[str, object]) -> str:
    return orjson.dumps(jwk).decode()


def test_absent_by_default(write_config: Write) -> None:
    assert load_settings(write_config(GROUPS), environ={}).bastion.jwt_auth is None


def test_a_jwks_url_with_defaults(write_config: Write) -> None:
    """Only issuer, audience and keys are needed; the rest has safe defaults."""
    auth = load(
        write_config,
        "issuer: https://id.example/\naudience: bastion\njwks_url: https://id.example/jwks.json",
    ).bastion.jwt_auth
    assert auth is not None
    assert (auth.issuer, auth.audiences, auth.jwks_url) == (
        "https://id.example/",
        ("bastion",),
        "https://id.example/jwks.json",
    )
    assert auth.algorithms == ASYMMETRIC_ALGORITHMS and auth.keys == ()
    assert (auth.user_claim, auth.team_claim, auth.models_claim) == ("sub", None, None)
    assert (auth.jwks_cache_seconds, auth.jwks_min_refresh_seconds, auth.leeway_seconds) == (300, 60, 30)


def test_every_setting(write_config: Write, ec_key: SigningKey) -> None:
    auth = load(
        write_config,
        f"""
issuer: https://id.example/
audience: [bastion, storycad]
algorithms: [ES256, EdDSA]
jwk: {inline(ec_key.public_jwk())}
leeway_seconds: 10
user_claim: email
team_claim: org.id
models_claim: bastion.models
models: [gpt]
user_limits:
  rpm_limit: 10
  tpm_limit: 5000
  max_parallel_requests: 2
  max_budget: 1.5
  budget_duration: 30d
""",
    ).bastion.jwt_auth
    assert auth is not None
    assert auth.audiences == ("bastion", "storycad") and auth.algorithms == ("ES256", "EdDSA")
    assert dict(auth.keys[0]) == ec_key.public_jwk()
    assert (auth.user_claim, auth.team_claim, auth.models_claim) == ("email", "org.id", "bastion.models")
    assert auth.default_models == ("gpt",) and auth.leeway_seconds == 10
    limits = auth.user_limits
    assert (limits.rpm_limit, limits.tpm_limit, limits.max_parallel_requests) == (10, 5000, 2)
    assert (limits.max_budget, limits.budget_duration) == (1.5, "30d")


def test_a_jwk_from_the_environment(write_config: Write, ec_key: SigningKey) -> None:
    """The seed's JWT_PUBLIC_JWK: one key as a JSON string in an environment variable."""
    auth = load(
        write_config,
        "issuer: i\naudience: a\njwk: os.environ/JWT_PUBLIC_JWK",
        environ={"JWT_PUBLIC_JWK": inline(ec_key.public_jwk())},
    ).bastion.jwt_auth
    assert auth is not None and dict(auth.keys[0]) == ec_key.public_jwk()


def test_a_jwks_document_inline_and_from_a_file(write_config: Write, ec_key: SigningKey) -> None:
    """A JWKS file is named relative to the config file."""
    other = SigningKey("ed25519")
    document = {"keys": [ec_key.public_jwk(), other.public_jwk()]}
    write_config(orjson.dumps(document).decode(), name="keys.json")
    from_file = load(write_config, "issuer: i\naudience: a\njwks_file: keys.json").bastion.jwt_auth
    inline_set = load(write_config, f"issuer: i\naudience: a\njwks: {inline(document)}").bastion.jwt_auth
    assert from_file is not None and inline_set is not None
    assert [dict(k) for k in from_file.keys] == [dict(k) for k in inline_set.keys] == document["keys"]


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("none", "unsigned token"),
        ("HS256", "'HS256' is a shared-secret (HMAC) algorithm"),
        ("HS512", "'HS512' is a shared-secret (HMAC) algorithm"),
        ("RS1", "unknown algorithm 'RS1'"),
    ],
)
def test_refused_algorithms_stop_the_start(write_config: Write, algorithm: str, expected: str) -> None:
    """A refused algorithm is named with file, line and key path."""
    message = error_of(
        write_config,
        f"issuer: i\naudience: a\njwks_url: https://id.example/k\nalgorithms: [RS256, {algorithm}]",
    )
    assert message.startswith("x.yaml:")
    assert "bastion_settings.jwt_auth.algorithms[1]: " in message and expected in message


def test_unsafe_keys_stop_the_start(write_config: Write, ec_key: SigningKey) -> None:
    """A private key, a shared secret, a key for HS256 or an encryption key is refused."""
    cases = [
        (ec_key.private_jwk(), "holds private key material ('d')"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "shared-secret key (kty 'oct')"),
        (ec_key.public_jwk(alg="HS256"), "names a refused algorithm"),
        (ec_key.public_jwk(use="enc"), "is not a signing key"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "is not a usable public key"),
        ({"n": "AQAB"}, "has no 'kty'"),
    ]
    for jwk, expected in cases:
        message = error_of(write_config, f"issuer: i\naudience: a\njwks: {inline({'keys': [jwk]})}")
        assert "bastion_settings.jwt_auth.jwks.keys[0]: this key " in message, message
        assert expected in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("issuer: i\naudience: a", "jwt_auth.jwk: give the public keys in exactly one of"),
        (
            "issuer: i\naudience: a\njwks_url: https://x/k\njwks_file: k.json",
            "jwt_auth.jwks_url: give the public keys in exactly one of: jwk, jwks, jwks_file, jwks_url "
            "(both jwks_file and jwks_url are set)",
        ),
        ("audience: a\njwks_url: https://x/k", "jwt_auth.issuer: is required"),
        ("issuer: i\njwks_url: https://x/k", "jwt_auth.audience: is required"),
        ("issuer: i\naudience: a\njwks_url: http://id.example/k", "must be an https:// URL"),
        ("issuer: i\naudience: a\njwk: 'not json'", "this string is not JSON"),
        ("issuer: i\naudience: a\njwks: {kty: RSA}", "must be a JWKS document"),
        ("issuer: i\naudience: a\njwks_file: missing.json", "cannot read"),
        ("issuer: i\naudience: a\njwks_url: https://x/k\nmodels: [gtp]", "did you mean 'gpt'?"),
        ("issuer: i\naudience: a\njwks_url: https://x/k\nuser_claim: 'a..b'", "must be a claim name"),
        ("issuer: i\naudience: a\njwks_url: https://x/k\nalgorithm: [RS256]", "did you mean 'algorithms'?"),
        (
            "issuer: i\naudience: a\njwks_url: https://x/k\nuser_limits: {rpm: 3}",
            "jwt_auth.user_limits.rpm: unknown key",
        ),
        (
            "issuer: i\naudience: a\njwks_url: https://x/k\n"
            "user_limits: {max_budget: 1, budget_duration: 3x}",
            "budget_duration: must be a whole number followed by",
        ),
        (
            "issuer: i\naudience: a\njwks_url: https://x/k\nuser_limits: {budget_duration: 1d}",
            "needs a max_budget",
        ),
    ],
)
def test_config_mistakes_are_reported(write_config: Write, body: str, expected: str) -> None:
    assert expected in error_of(write_config, body)


def test_plain_http_is_allowed_to_loopback(write_config: Write) -> None:
    for url in ("http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]:9/jwks"):
        auth = load(write_config, f"issuer: i\naudience: a\njwks_url: '{url}'").bastion.jwt_auth
        assert auth is not None and auth.jwks_url == url
