"""A stand-in identity provider for tests: signing keys made in-test, tokens, and a JWKS server.

Keys are generated with ``cryptography`` (RSA 2048, EC P-256, Ed25519); tokens are signed with
PyJWT, and the forged ones (``alg: none``, HS256 keyed with the public key) are written by hand,
as an attacker would. :class:`JwksServer` serves a JWKS document on a loopback port and counts
how many times it was fetched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

__all__ = ["AUDIENCE", "ISSUER", "JwksServer", "SigningKey", "b64url", "claims", "forge"]

ISSUER = "https://id.example.test/"
AUDIENCE = "bastion-tests"

_DEFAULT_ALG = {"rsa": "RS256", "ec": "ES256", "ed25519": "EdDSA"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(user: str = "alice", *, lifetime: float = 300, **extra: Any) -> dict[str, Any]:
    """A token's claims for ``user``: the test issuer and audience, valid from now for ``lifetime``."""
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "iat": now, "exp": now + int(lifetime)} | extra


class SigningKey:
    """One key pair of the stand-in identity provider."""

    def __init__(self, kind: str, kid: str | None = None) -> None:
        self.kind = kind
        self.kid = kid if kid is not None else f"{kind}-key"
        self.alg = _DEFAULT_ALG[kind]
        self.private: Any
        if kind == "rsa":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self._codec: Any = RSAAlgorithm
        elif kind == "ec":
            self.private = ec.generate_private_key(ec.SECP256R1())
            self._codec = ECAlgorithm
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            self._codec = OKPAlgorithm

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        jwk: dict[str, Any] = self._codec.to_jwk(self.private.public_key(), as_dict=True)
        if self.kid:
            jwk["kid"] = self.kid
        return jwk | extra

    def private_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = self._codec.to_jwk(self.private, as_dict=True)
        return jwk

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, payload: dict[str, Any], *, alg: str | None = None, kid: str | None = "") -> str:
        """``payload`` signed with this key; ``kid=None`` leaves the kid header out."""
        headers = {} if kid is None else {"kid": kid or self.kid}
        return jwt.encode(payload, self.private, algorithm=alg or self.alg, headers=headers)


def forge(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None = None) -> str:
    """A token written by hand: unsigned (``secret`` None, empty signature) or HMAC-SHA256 with ``secret``."""
    signing_input = f"{b64url(orjson.dumps(header))}.{b64url(orjson.dumps(payload))}"
    signature = b""
    if secret is not None:
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


class JwksServer:
    """A JWKS document on a loopback port; ``fetches`` counts the GETs, ``status`` can be set to fail.

    ``redirects`` maps a path to where it answers 302; ``tls`` (a server-side context) serves HTTPS
    on ``localhost`` instead of HTTP on 127.0.0.1.
    """

    def __init__(self, *keys: SigningKey, tls: ssl.SSLContext | None = None) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.status = 200
        self.redirects: dict[str, str] = {}
        self.paths: list[str] = []
        self._tls = tls
        #: Set to hold every answer until it is set again (proves a slow fetch blocks nothing).
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.server_address[1]
        origin = f"https://localhost:{port}" if self._tls is not None else f"http://127.0.0.1:{port}"
        return origin + "/.well-known/jwks.json"

    def document(self) -> bytes:
        return orjson.dumps({"keys": [key.public_jwk() for key in self.keys]})

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.paths.append(self.path)
                moved = owner.redirects.get(self.path)
                if moved is not None:
                    self.send_response(302)
                    self.send_header("location", moved)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                owner.fetches += 1
                owner.waiting.set()
                owner.gate.wait(timeout=30)
                body = owner.document() if owner.status == 200 else b'{"error": "down"}'
                self.send_response(owner.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self._tls is not None:
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.gate.set()
            self._server.shutdown()
            self._server.server_close()
            thread.join()
