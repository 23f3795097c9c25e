"""Browser tokens: what a minter may put in one, and what verifying one accepts."""

from __future__ import annotations

import base64

import orjson
import pytest

from bastion.auth.browser_tokens import BrowserTokens, check_user, looks_like_browser_token
from bastion.auth.jwt_tokens import looks_like_token
from bastion.domain.errors import AuthenticationError, PermissionDeniedError
from bastion.domain.principal import Principal, ScopeLimits
from bastion.settings import BrowserSettings, EndUserLimits, Secret

NOW = 1_800_000_000.0
MASTER = Principal("master", "master", "m" * 64)
KEY = Principal(
    "virtual_key",
    "backend",
    "k" * 64,
    models=frozenset({"claude", "gpt"}),
    team_id="t1",
    user_id="owner",
    expires=NOW + 120,
    limits=(ScopeLimits("key:" + "k" * 64, rpm=100, max_budget=5.0),),
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock: Clock) -> BrowserTokens:
    return BrowserTokens(b"s" * 32, user_limits=EndUserLimits(rpm_limit=10), clock=clock)


def test_round_trip(tokens: BrowserTokens) -> None:
    token, claims = tokens.mint(KEY, models=["claude"], budget=0.25, ttl_seconds=60, user="ann")
    assert looks_like_browser_token(token) and not looks_like_token(token)
    assert tokens.verify(token) == claims
    assert (claims.models, claims.budget, claims.user, claims.expires_at) == (
        ("claude",),
        0.25,
        "ann",
        NOW + 60,
    )
    principal = tokens.principal(claims, KEY)
    assert principal.kind == "browser_token" and principal.models == frozenset({"claude"})
    assert principal.key_hash == KEY.key_hash and principal.user_id == "ann" and principal.team_id == "t1"
    scopes = {s.scope: s for s in principal.limits}
    assert scopes["key:" + "k" * 64].max_budget == 5.0  # the minter's own limits still apply
    assert scopes[f"browser_token:{claims.jti}"].max_budget == 0.25
    assert scopes["end_user:ann"].rpm == 10


def test_no_models_named_means_the_minters(tokens: BrowserTokens) -> None:
    _, claims = tokens.mint(KEY, models=[], budget=None, ttl_seconds=60, user=None)
    assert claims.models == ("claude", "gpt")
    _, claims = tokens.mint(MASTER, models=[], budget=None, ttl_seconds=60, user=None)
    assert claims.models == ()  # the master key's tokens may use every model
    principal = tokens.principal(claims, MASTER)
    assert principal.key_hash == "" and any(s.scope.endswith(":rate") for s in principal.limits)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": ["gemini"]}, "may not use gemini"),
        ({"budget": 6.0}, r"may not exceed its minting key's \(5 USD\)"),
    ],
)
def test_never_more_than_the_minter(tokens: BrowserTokens, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "models": ["claude"],
        "budget": None,
        "ttl_seconds": 60,
        "user": None,
        **kwargs,
    }
    with pytest.raises(PermissionDeniedError, match=message):
        tokens.mint(KEY, **args)  # type: ignore[arg-type]


def test_life_ends_with_the_minters(tokens: BrowserTokens, clock: Clock) -> None:
    _, claims = tokens.mint(KEY, models=[], budget=None, ttl_seconds=600, user=None)
    assert claims.expires_at == NOW + 120
    clock.now = NOW + 121
    with pytest.raises(PermissionDeniedError, match="expired"):
        tokens.mint(KEY, models=[], budget=None, ttl_seconds=60, user=None)


@pytest.mark.parametrize("kind", ["jwt", "browser_token", "anonymous"])
def test_only_keys_mint(tokens: BrowserTokens, kind: str) -> None:
    with pytest.raises(PermissionDeniedError, match="master key or a Bastion key"):
        tokens.mint(Principal(kind, "x", ""), models=[], budget=None, ttl_seconds=60, user=None)


def test_expired(tokens: BrowserTokens, clock: Clock) -> None:
    token, _ = tokens.mint(MASTER, models=[], budget=None, ttl_seconds=60, user=None)
    clock.now = NOW + 60
    with pytest.raises(AuthenticationError, match="expired") as caught:
        tokens.verify(token)
    assert caught.value.code == "token_expired"


def test_altered_or_foreign_tokens(tokens: BrowserTokens) -> None:
    token, _ = tokens.mint(MASTER, models=["claude"], budget=None, ttl_seconds=60, user=None)
    body, _, signature = token.partition(".")
    payload = orjson.loads(base64.urlsafe_b64decode(body[3:] + "=="))
    payload["models"] = []
    widened = "bt_" + base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    with pytest.raises(AuthenticationError, match="signature does not verify"):
        tokens.verify(widened + "." + signature)
    other = BrowserTokens(b"o" * 32)
    with pytest.raises(AuthenticationError, match="signature does not verify"):
        other.verify(token)
    for broken in ("bt_", "bt_abc", "bt_!!.??", "sk-x.y"):
        with pytest.raises(AuthenticationError):
            tokens.verify(broken)


def test_secret_from_settings() -> None:
    master = Secret("sk-master-1")
    one = BrowserTokens.from_settings(BrowserSettings(), master)
    two = BrowserTokens.from_settings(BrowserSettings(), master)
    token, _ = one.mint(MASTER, models=[], budget=None, ttl_seconds=60, user=None)
    assert two.verify(token).minter_kind == "master"  # every process of one deployment agrees
    configured = BrowserTokens.from_settings(BrowserSettings(token_secret=Secret("x" * 32)), master)
    with pytest.raises(AuthenticationError):
        configured.verify(token)


def test_user_ids() -> None:
    assert check_user(None) is None and check_user(" ann ") == "ann"
    for bad in ("", "  ", 5, "x" * 256):
        with pytest.raises(ValueError, match="'user'"):
            check_user(bad)
