"""End users arriving with an identity provider's signed token (JWT) instead of a Bastion key.

How a presented credential is told apart: Bastion keys always start with ``sk-`` (LiteLLM's rule,
enforced for master, static and virtual keys) and keep going down the key path. Anything else made
of three dot-separated base64url parts (``header.payload.signature``, the JWS compact form; the
signature may be empty so an ``alg: none`` token is recognised and refused with its reason) is a
token, checked here when ``bastion_settings.jwt_auth`` is configured.

A token passes only when its algorithm is an allowed asymmetric one, it is signed by a known key
that fits that algorithm, it carries ``exp``, ``iss`` and ``aud``, the issuer and an audience
match, and it is neither expired nor not yet valid (with ``leeway_seconds`` of clock skew). Every
refusal is a 401 that says why, and never repeats the token.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bastion.auth.jwt_keys import KeySource, RemoteKeys, StaticKeys
from bastion.domain.errors import AuthenticationError
from bastion.domain.principal import Principal, ScopeLimits
from bastion.outbound.http import HttpPool
from bastion.settings import JwtAuthSettings
from bastion.settings.jwk_rules import algorithm_problem

if TYPE_CHECKING:
    from jwt import PyJWK

__all__ = ["TokenVerifier", "looks_like_token"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
#: The spend log's user column holds this many characters.
_MAX_USER = 255
_NO_MODELS = frozenset({"<none>"})
#: A plan's name is at most this long (bastion_settings.plans, /budget/new).
_MAX_PLAN = 64
#: A verified token is trusted again without checking its signature for this long (never past its
#: ``exp``): verifying costs 0.1 to 0.3 ms of CPU on the event loop, a cache hit about a microsecond.
_TRUST_SECONDS = 60.0
_MAX_TRUSTED = 10_000


def looks_like_token(credential: str) -> bool:
    """Whether a presented credential is a JWT rather than a Bastion key (see the module docstring)."""
    return not credential.startswith("sk-") and _TOKEN.fullmatch(credential) is not None


def _refused(reason: str, code: str = "invalid_token") -> AuthenticationError:
    return AuthenticationError(f"The token was refused: {reason}", code=code)


class TokenVerifier:
    """Checks end-user tokens and turns valid ones into principals."""

    def __init__(
        self, config: JwtAuthSettings, keys: KeySource, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._config = config
        self.keys = keys
        self._clock = clock
        #: Verified tokens by SHA-256: (trusted until, principal). Refusals are never cached.
        self._trusted: dict[bytes, tuple[float, Principal]] = {}
        #: Prepared keys by (id of the JWK, algorithm); the entry holds the JWK itself, so its id
        #: cannot be reused by another key while the entry lives.
        self._prepared: dict[tuple[int, str], tuple[Mapping[str, Any], PyJWK]] = {}
        limits = config.user_limits
        self._limited = any(
            value is not None
            for value in (
                limits.rpm_limit,
                limits.tpm_limit,
                limits.max_parallel_requests,
                limits.max_budget,
            )
        )

    @classmethod
    def from_settings(cls, config: JwtAuthSettings, *, http: HttpPool) -> TokenVerifier:
        """``http`` is the process's HTTP client, for a ``jwks_url``."""
        keys: KeySource
        if config.jwks_url is not None:
            keys = RemoteKeys(
                config.jwks_url,
                cache_seconds=config.jwks_cache_seconds,
                min_refresh_seconds=config.jwks_min_refresh_seconds,
                timeout=config.jwks_timeout_seconds,
                http=http,
            )
        else:
            keys = StaticKeys(config.keys)
        return cls(config, keys)

    async def principal(self, token: str) -> Principal:
        """The end user a valid token names; raises AuthenticationError saying why it is not valid."""
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        trusted = self._trusted.get(digest)
        if trusted is not None and trusted[0] > now:
            return trusted[1]
        principal = self._principal(await self.claims(token))
        until = now + _TRUST_SECONDS
        if principal.expires is not None:
            until = min(until, principal.expires)
        if len(self._trusted) >= _MAX_TRUSTED:
            self._trusted.clear()  # bounded: costs one verification per live token
        self._trusted[digest] = (until, principal)
        return principal

    async def claims(self, token: str) -> dict[str, Any]:
        # PyJWT and cryptography (~20 MiB) load with the first token, never in a gateway without
        # jwt_auth (this module is imported everywhere for looks_like_token).
        import jwt
        from jwt.exceptions import (
            ExpiredSignatureError,
            ImmatureSignatureError,
            InvalidAudienceError,
            InvalidIssuerError,
            InvalidKeyError,
            InvalidSignatureError,
            MissingRequiredClaimError,
            PyJWTError,
        )

        config = self._config
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise _refused("it is not a well-formed JWT.") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or not alg:
            raise _refused("its header names no algorithm ('alg').")
        problem = algorithm_problem(alg)
        if problem is not None:
            raise _refused(problem + ".")
        if alg not in config.algorithms:
            raise _refused(
                f"it is signed with {alg}, which this gateway does not accept "
                f"(allowed: {', '.join(config.algorithms)})."
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _refused("its 'kid' header is not a string.")
        key = self._prepare(await self.keys.find(kid), alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=list(config.audiences),
                issuer=config.issuer,
                leeway=config.leeway_seconds,
                options={"require": ["exp", "iss", "aud"], "enforce_minimum_key_length": True},
            )
        except ExpiredSignatureError:
            raise _refused("it has expired ('exp' is in the past).", "token_expired") from None
        except ImmatureSignatureError:
            raise _refused("it is not valid yet ('nbf' or 'iat' is in the future).") from None
        except InvalidAudienceError:
            raise _refused("its audience ('aud') is not this gateway.") from None
        except InvalidIssuerError:
            raise _refused("it was not issued by the configured issuer ('iss').") from None
        except InvalidSignatureError:
            raise _refused("its signature does not verify.") from None
        except MissingRequiredClaimError as exc:
            raise _refused(f"it has no '{exc.claim}' claim.") from None
        except InvalidKeyError:
            raise _refused("the key it names is too weak to be trusted.") from None
        except PyJWTError as exc:
            raise _refused(f"it is malformed ({type(exc).__name__}).") from None
        return claims

    def _prepare(self, jwk: Mapping[str, Any], alg: str) -> PyJWK:
        """The key bound to the token's algorithm; a key of another family (RSA for ES256) is refused."""
        from jwt import PyJWK
        from jwt.exceptions import PyJWTError

        cached = self._prepared.get((id(jwk), alg))
        if cached is not None and cached[0] is jwk:
            return cached[1]
        declared = jwk.get("alg")
        if declared is not None and declared != alg:
            raise _refused(f"it says {alg} but its key is for {declared}.")
        try:
            prepared = PyJWK(dict(jwk), algorithm=alg)
        except PyJWTError:
            raise _refused(f"its algorithm {alg} does not fit its key (kty '{jwk.get('kty')}').") from None
        if len(self._prepared) > 1024:
            self._prepared.clear()  # rotated-out keys must not pile up
        self._prepared[(id(jwk), alg)] = (jwk, prepared)
        return prepared

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        config = self._config
        user = _identifier(claim(claims, config.user_claim))
        if user is None:
            raise _refused(f"it names no user (claim '{config.user_claim}').")
        if len(user) > _MAX_USER:
            raise _refused(f"its user claim '{config.user_claim}' is longer than {_MAX_USER} characters.")
        team = None
        if config.team_claim is not None:
            found = claim(claims, config.team_claim)
            team = _identifier(found)
            if found is not None and (team is None or len(team) > _MAX_USER):
                raise _refused(f"its team claim '{config.team_claim}' is not a short string.")
        models = frozenset(config.default_models)
        if config.models_claim is not None:
            named = _models(claim(claims, config.models_claim), config.models_claim)
            if named is not None:
                models = named or _NO_MODELS  # an empty list allows nothing, never everything
        plan = None
        if config.plan_claim is not None:
            found = claim(claims, config.plan_claim)
            plan = _identifier(found)
            if found is not None and (plan is None or len(plan) > _MAX_PLAN):
                raise _refused(f"its plan claim '{config.plan_claim}' is not a plan's name.")
        exp = claims.get("exp")
        limits = config.user_limits
        return Principal(
            kind="jwt",
            label=user,
            key_hash="",
            models=models,
            team_id=team,
            user_id=user,
            expires=float(exp) if isinstance(exp, int | float) else None,
            end_user=user,
            plan=plan,
            limits=(
                ScopeLimits(
                    f"end_user:{user}",
                    rpm=limits.rpm_limit,
                    tpm=limits.tpm_limit,
                    parallel=limits.max_parallel_requests,
                    max_budget=limits.max_budget,
                    budget_duration=limits.budget_duration,
                ),
            )
            if self._limited
            else (),
        )


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by dotted path into nested objects (``org.id``); a literal dotted name wins."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _identifier(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _models(value: Any, name: str) -> frozenset[str] | None:
    """A list of model names, or one string of names separated by spaces or commas."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset(part for part in re.split(r"[\s,]+", value) if part)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(item for item in value if item)
    raise _refused(f"its models claim '{name}' is not a list of model names.")
