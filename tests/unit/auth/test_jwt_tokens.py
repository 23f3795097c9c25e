"""End-user tokens: RSA, EC and Ed25519 signatures pass; every classic attack is refused with its reason."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from typing import Any

import orjson
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from bastion.auth.jwt_keys import StaticKeys
from bastion.auth.jwt_tokens import TokenVerifier, claim, looks_like_token
from bastion.domain.errors import AuthenticationError
from bastion.domain.principal import Principal
from bastion.settings import EndUserLimits, JwtAuthSettings
from bastion.settings.jwk_rules import ASYMMETRIC_ALGORITHMS
from support.identity import AUDIENCE, ISSUER, SigningKey, b64url, claims, forge

KINDS = ["rsa", "ec", "ed25519"]


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, SigningKey]:
    return {kind: SigningKey(kind) for kind in KINDS}


def settings(keys: list[SigningKey], **changes: Any) -> JwtAuthSettings:
    base = JwtAuthSettings(
        issuer=ISSUER,
        audiences=(AUDIENCE,),
        algorithms=ASYMMETRIC_ALGORITHMS,
        keys=tuple(key.public_jwk() for key in keys),
        leeway_seconds=0,
    )
    return replace(base, **changes)


def verify(config: JwtAuthSettings, token: str) -> Principal:
    return asyncio.run(TokenVerifier(config, StaticKeys(config.keys)).principal(token))


def refusal(config: JwtAuthSettings, token: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        verify(config, token)
    assert caught.value.status == 401
    message = caught.value.message
    for part in token.split("."):
        assert not part or part not in message, "a refusal never repeats the token"
    return message


@pytest.mark.parametrize("kind", KINDS)
def test_a_valid_token_becomes_an_end_user(kind: str, signing_keys: dict[str, SigningKey]) -> None:
    """A token signed by each key type names its user; the principal is a 'jwt' one, not an admin."""
    config = settings(list(signing_keys.values()))
    principal = verify(config, signing_keys[kind].sign(claims("alice")))
    assert (principal.kind, principal.user_id, principal.label) == ("jwt", "alice", "alice")
    assert not principal.is_admin and principal.models == frozenset() and principal.limits == ()


def test_pss_signatures_verify_with_an_rsa_key(signing_keys: dict[str, SigningKey]) -> None:
    """One RSA key serves RS256 and PS256 tokens alike when both are allowed."""
    rsa = signing_keys["rsa"]
    assert verify(settings([rsa]), rsa.sign(claims("bob"), alg="PS256")).user_id == "bob"


def test_alg_none_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    """An unsigned token (every spelling of 'none') is refused, naming the reason."""
    config = settings([signing_keys["rsa"]])
    for name in ("none", "None", "NONE"):
        token = forge({"alg": name, "typ": "JWT", "kid": "rsa-key"}, claims("mallory"))
        assert "unsigned" in refusal(config, token)


def test_hs256_signed_with_the_public_key_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    """The key-confusion attack: HMAC keyed with the public key's PEM (or its JWK) never passes."""
    rsa = signing_keys["rsa"]
    config = settings([rsa])
    for secret in (rsa.public_pem(), orjson.dumps(rsa.public_jwk())):
        token = forge({"alg": "HS256", "typ": "JWT", "kid": rsa.kid}, claims("mallory"), secret)
        assert "shared-secret (HMAC)" in refusal(config, token)


def test_expired_token_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    token = signing_keys["ec"].sign(claims(lifetime=-60))
    assert "expired" in refusal(settings([signing_keys["ec"]]), token)


def test_leeway_forgives_small_clock_skew(signing_keys: dict[str, SigningKey]) -> None:
    """A token expired 60 seconds ago passes with 120 seconds of leeway."""
    token = signing_keys["ec"].sign(claims(lifetime=-60))
    assert verify(settings([signing_keys["ec"]], leeway_seconds=120), token).user_id == "alice"


def test_not_yet_valid_token_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    ed = signing_keys["ed25519"]
    token = ed.sign(claims(nbf=int(claims()["iat"]) + 3600))
    assert "not valid yet" in refusal(settings([ed]), token)


def test_wrong_audience_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    rsa = signing_keys["rsa"]
    token = rsa.sign(claims(aud="another-service"))
    assert "audience" in refusal(settings([rsa]), token)


def test_any_configured_audience_is_accepted(signing_keys: dict[str, SigningKey]) -> None:
    rsa = signing_keys["rsa"]
    config = settings([rsa], audiences=(AUDIENCE, "second"))
    assert verify(config, rsa.sign(claims(aud="second"))).user_id == "alice"


def test_wrong_issuer_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    rsa = signing_keys["rsa"]
    token = rsa.sign(claims(iss="https://evil.example/"))
    assert "issuer" in refusal(settings([rsa]), token)


def test_unknown_kid_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    """A token naming a key the gateway does not hold is refused, even if its signature is fine."""
    stranger = SigningKey("rsa", kid="stranger")
    token = stranger.sign(claims())
    assert "does not know (kid 'stranger')" in refusal(settings([signing_keys["rsa"]]), token)


def test_a_key_the_gateway_does_not_hold_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    """Another key reusing a known kid: the signature does not verify."""
    impostor = SigningKey("ec", kid="ec-key")
    assert "signature does not verify" in refusal(settings([signing_keys["ec"]]), impostor.sign(claims()))


def test_tampered_payload_is_refused(signing_keys: dict[str, SigningKey]) -> None:
    """Changing the user after signing breaks the signature."""
    token = signing_keys["ed25519"].sign(claims("alice"))
    header, _, signature = token.split(".")
    forged = f"{header}.{b64url(orjson.dumps(claims('admin')))}.{signature}"
    assert "signature does not verify" in refusal(settings([signing_keys["ed25519"]]), forged)


def test_algorithm_must_fit_the_key(signing_keys: dict[str, SigningKey]) -> None:
    """An ES256 token naming an RSA key is refused before any verification."""
    ec = signing_keys["ec"]
    token = ec.sign(claims(), kid="rsa-key")
    assert "does not fit its key" in refusal(settings([signing_keys["rsa"], ec]), token)


def test_algorithms_outside_the_allowed_list_are_refused(signing_keys: dict[str, SigningKey]) -> None:
    rsa = signing_keys["rsa"]
    config = settings([rsa], algorithms=("RS256",))
    assert "PS256, which this gateway does not accept" in refusal(config, rsa.sign(claims(), alg="PS256"))


def test_a_key_bound_to_one_algorithm_refuses_others(signing_keys: dict[str, SigningKey]) -> None:
    rsa = signing_keys["rsa"]
    config = replace(settings([]), keys=(rsa.public_jwk(alg="RS256"),))
    assert "its key is for RS256" in refusal(config, rsa.sign(claims(), alg="PS256"))


def test_short_rsa_keys_are_refused() -> None:
    """A 1024-bit RSA key is too weak to vouch for anyone."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = SigningKey("rsa", kid="weak")
    weak.private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.warns(InsecureKeyLengthWarning):  # PyJWT warns the signer too
        token = weak.sign(claims())
    assert "too weak" in refusal(settings([weak]), token)


def test_required_claims(signing_keys: dict[str, SigningKey]) -> None:
    """Without exp (a token that never expires) or a user, a token is refused."""
    rsa = signing_keys["rsa"]
    config = settings([rsa])
    no_exp = {k: v for k, v in claims().items() if k != "exp"}
    assert "no 'exp' claim" in refusal(config, rsa.sign(no_exp))
    no_sub = {k: v for k, v in claims().items() if k != "sub"}
    assert "names no user (claim 'sub')" in refusal(config, rsa.sign(no_sub))


def test_malformed_tokens(signing_keys: dict[str, SigningKey]) -> None:
    config = settings([signing_keys["rsa"]])
    assert "not a well-formed JWT" in refusal(config, "abc.def.ghi")
    header = base64.urlsafe_b64encode(b'{"typ":"JWT"}').rstrip(b"=").decode()
    assert "no algorithm" in refusal(config, f"{header}.e30.")


def test_kid_is_optional_with_a_single_key(signing_keys: dict[str, SigningKey]) -> None:
    ed = signing_keys["ed25519"]
    config = replace(settings([]), keys=({k: v for k, v in ed.public_jwk().items() if k != "kid"},))
    assert verify(config, ed.sign(claims(), kid=None)).user_id == "alice"
    assert verify(config, ed.sign(claims())).user_id == "alice"  # a kid, and one unnamed key
    two = settings([signing_keys["rsa"], ed])
    assert "no 'kid' header" in refusal(two, ed.sign(claims(), kid=None))


def test_claims_name_team_models_and_user(signing_keys: dict[str, SigningKey]) -> None:
    """User, team and models come from the configured claims, dotted paths into nested objects."""
    rsa = signing_keys["rsa"]
    config = settings(
        [rsa], user_claim="email", team_claim="org.team", models_claim="bastion.models", leeway_seconds=5
    )
    token = rsa.sign(claims(email="a@example.com", org={"team": "writers"}, bastion={"models": ["gpt"]}))
    principal = verify(config, token)
    assert (principal.user_id, principal.team_id, principal.models) == (
        "a@example.com",
        "writers",
        frozenset({"gpt"}),
    )
    assert principal.may_use("gpt") and not principal.may_use("claude")


def test_models_claim_forms(signing_keys: dict[str, SigningKey]) -> None:
    """A space-separated string works; an empty list allows nothing; a missing claim falls back."""
    rsa = signing_keys["rsa"]
    config = settings([rsa], models_claim="models", default_models=("mock",))
    assert verify(config, rsa.sign(claims(models="gpt claude"))).models == frozenset({"gpt", "claude"})
    nothing = verify(config, rsa.sign(claims(models=[])))
    assert not nothing.may_use("gpt") and not nothing.may_use("mock")
    assert verify(config, rsa.sign(claims())).models == frozenset({"mock"})
    assert "not a list of model names" in refusal(config, rsa.sign(claims(models={"a": 1})))


def test_user_limits_make_an_end_user_scope(signing_keys: dict[str, SigningKey]) -> None:
    """Each end user gets a scope of their own, carrying the configured limits."""
    rsa = signing_keys["rsa"]
    limits = EndUserLimits(rpm_limit=3, tpm_limit=1000, max_parallel_requests=2, max_budget=1.5)
    config = settings([rsa], user_limits=limits)
    alice = verify(config, rsa.sign(claims("alice")))
    bob = verify(config, rsa.sign(claims("bob")))
    assert [s.scope for s in alice.limits] == ["end_user:alice"]
    assert [s.scope for s in bob.limits] == ["end_user:bob"]
    scope = alice.limits[0]
    assert (scope.rpm, scope.tpm, scope.parallel, scope.max_budget) == (3, 1000, 2, 1.5)


def test_overlong_or_odd_identities_are_refused(signing_keys: dict[str, SigningKey]) -> None:
    rsa = signing_keys["rsa"]
    config = settings([rsa], team_claim="team")
    assert "longer than 255" in refusal(config, rsa.sign(claims("x" * 256)))
    assert "team claim 'team' is not a short string" in refusal(config, rsa.sign(claims(team=["a"])))
    numeric = replace(config, user_claim="uid")
    assert verify(numeric, rsa.sign(claims(uid=42))).user_id == "42"
    assert "names no user" in refusal(numeric, rsa.sign(claims(uid=True)))


def test_a_verified_token_is_trusted_briefly_and_never_past_its_expiry(
    signing_keys: dict[str, SigningKey],
) -> None:
    """The signature is checked once; the cached answer lasts a minute at most, and not past exp."""
    rsa = signing_keys["rsa"]
    config = settings([rsa])
    start = float(claims()["iat"])
    now = [start]
    verifier = TokenVerifier(config, StaticKeys(config.keys), clock=lambda: now[0])
    checked: list[str] = []
    real = verifier.claims

    async def counting(token: str) -> dict[str, Any]:
        checked.append(token)
        return await real(token)

    verifier.claims = counting  # type: ignore[method-assign]
    long_lived = rsa.sign(claims("alice", lifetime=3600))
    short_lived = rsa.sign(claims("bob", lifetime=30))

    async def run() -> None:
        for _ in range(3):
            assert (await verifier.principal(long_lived)).user_id == "alice"
            assert (await verifier.principal(short_lived)).user_id == "bob"
        assert checked == [long_lived, short_lived]
        now[0] = start + 31  # past bob's exp, within alice's minute
        await verifier.principal(long_lived)
        await verifier.principal(short_lived)
        assert checked == [long_lived, short_lived, short_lived]
        now[0] = start + 61  # past the minute: alice is checked again too
        await verifier.principal(long_lived)
        assert checked[-1] == long_lived and len(checked) == 4

    asyncio.run(run())


def test_claim_paths() -> None:
    data = {"a": {"b": {"c": 1}}, "x.y": 2}
    assert claim(data, "a.b.c") == 1 and claim(data, "x.y") == 2
    assert claim(data, "a.z") is None and claim(data, "a.b.c.d") is None


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", True),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", True),  # alg none: recognised, then refused
        ("sk-abc.def.ghi", False),  # Bastion keys keep the key path whatever they look like
        ("sk-bastion-demo", False),
        ("abc.def", False),
        ("a.b.c.d", False),
        ("abc.d$f.ghi", False),
    ],
)
def test_tokens_are_told_apart_from_keys(credential: str, expected: bool) -> None:
    assert looks_like_token(credential) is expected
