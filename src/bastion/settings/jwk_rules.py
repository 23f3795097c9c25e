"""Which signing algorithms and which JSON Web Keys Bastion accepts for end-user tokens.

Only asymmetric algorithms: the gateway holds public keys, and a public key must never be usable as
a shared secret (the classic ``HS256`` confusion attack), nor may an unsigned token (``alg: none``)
pass. The same rules check the keys written in the config (at start-up, with file and line) and the
keys fetched from a JWKS URL (at run time, where a bad key is skipped and logged).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ASYMMETRIC_ALGORITHMS", "algorithm_problem", "jwk_problem"]

#: Every algorithm a token may be signed with: RSA PKCS#1 v1.5, RSA-PSS, ECDSA and EdDSA.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES256K",
    "ES384",
    "ES512",
    "ES521",
    "EdDSA",
)

_KEY_TYPES = ("RSA", "EC", "OKP")
#: The members only a private (or symmetric) key has.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def algorithm_problem(name: str) -> str | None:
    """Why ``name`` may not sign a token Bastion accepts, or ``None`` when it may."""
    if name in ASYMMETRIC_ALGORITHMS:
        return None
    if name.lower() == "none":
        return "'none' means an unsigned token, which anyone can write; it is never accepted"
    if name.upper().startswith("HS"):
        return (
            f"'{name}' is a shared-secret (HMAC) algorithm: anyone holding the public key could sign "
            "tokens with it; only asymmetric algorithms (RS*, PS*, ES*, EdDSA) are accepted"
        )
    return f"unknown algorithm '{name}' (expected one of: {', '.join(ASYMMETRIC_ALGORITHMS)})"


def jwk_problem(jwk: Mapping[str, Any]) -> str | None:
    """Why ``jwk`` is not a public signing key Bastion can use, or ``None`` when it is."""
    kty = jwk.get("kty")
    if not isinstance(kty, str):
        return "has no 'kty' (key type)"
    if kty == "oct":
        return "is a shared-secret key (kty 'oct'); only public keys (RSA, EC, OKP) are accepted"
    if kty not in _KEY_TYPES:
        return f"has an unsupported key type '{kty}' (expected one of: {', '.join(_KEY_TYPES)})"
    private = [name for name in _PRIVATE_MEMBERS if name in jwk]
    if private:
        return f"holds private key material ('{private[0]}'); give only the public key"
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        return "has a 'kid' that is not a string"
    use = jwk.get("use")
    if use is not None and use != "sig":
        return f"is not a signing key (use '{use}')"
    alg = jwk.get("alg")
    if alg is not None:
        problem = algorithm_problem(str(alg))
        if problem is not None:
            return f"names a refused algorithm: {problem}"
    # PyJWT (and cryptography under it, ~20 MiB) loads only when a config has keys to check.
    from jwt import PyJWK
    from jwt.exceptions import PyJWTError

    try:
        PyJWK(dict(jwk))
    except PyJWTError as exc:
        return f"is not a usable public key ({type(exc).__name__})"
    return None
