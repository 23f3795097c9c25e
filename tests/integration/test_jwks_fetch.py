"""Keys from a JWKS URL on a real loopback server: cached, refreshed on an unknown kid, never hammered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest

from bastion.auth.jwt_keys import KeysUnavailableError, RemoteKeys
from bastion.auth.jwt_tokens import TokenVerifier
from bastion.domain.errors import AuthenticationError
from bastion.outbound.http import HttpPool
from bastion.settings import JwtAuthSettings
from bastion.settings.jwk_rules import ASYMMETRIC_ALGORITHMS
from support.identity import AUDIENCE, ISSUER, JwksServer, SigningKey, claims
from support.test_ca import TestCA


class Clock:
    """A clock the test moves by hand: cache and refresh-floor decisions without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[JwksServer]:
    with JwksServer(SigningKey("rsa", kid="one")).running() as server:
        yield server


def verifier(
    server: JwksServer, clock: Clock, *, floor: float = 60, cache: float = 300, http: HttpPool | None = None
) -> TokenVerifier:
    config = JwtAuthSettings(
        issuer=ISSUER, audiences=(AUDIENCE,), algorithms=ASYMMETRIC_ALGORITHMS, jwks_url=server.url
    )
    keys = RemoteKeys(
        server.url,
        cache_seconds=cache,
        min_refresh_seconds=floor,
        timeout=5,
        http=http or HttpPool(),
        clock=clock,
    )
    return TokenVerifier(config, keys)


def test_keys_are_fetched_once_and_cached(idp: JwksServer) -> None:
    """Many tokens, one fetch, until the cache time has passed."""
    clock = Clock()

    async def run() -> None:
        check = verifier(idp, clock, cache=300)
        for user in ("a", "b", "c"):
            assert (await check.principal(idp.keys[0].sign(claims(user)))).user_id == user
        assert idp.fetches == 1
        clock.now += 301
        await check.principal(idp.keys[0].sign(claims()))
        assert idp.fetches == 2
        await check.keys.close()

    asyncio.run(run())


def test_an_unknown_kid_refreshes_the_keys(idp: JwksServer) -> None:
    """The identity provider rotates: a token with the new kid makes the gateway fetch again."""
    clock = Clock()

    async def run() -> None:
        check = verifier(idp, clock, floor=60)
        await check.principal(idp.keys[0].sign(claims()))
        rotated = SigningKey("ec", kid="two")
        idp.keys = [rotated]
        clock.now += 61
        assert (await check.principal(rotated.sign(claims("rotated")))).user_id == "rotated"
        assert idp.fetches == 2
        await check.keys.close()

    asyncio.run(run())


def test_unknown_kids_cannot_make_the_gateway_refetch_within_the_floor(idp: JwksServer) -> None:
    """A flood of made-up kids costs at most one fetch per floor period, and each gets a 401."""
    clock = Clock()
    forger = SigningKey("rsa", kid="made-up")

    async def run() -> None:
        check = verifier(idp, clock, floor=60)
        await check.principal(idp.keys[0].sign(claims()))
        for _ in range(20):
            with pytest.raises(AuthenticationError, match="does not know"):
                await check.principal(forger.sign(claims()))
        assert idp.fetches == 1  # the floor had not passed since the first fetch
        clock.now += 61
        for _ in range(20):
            with pytest.raises(AuthenticationError, match="does not know"):
                await check.principal(forger.sign(claims()))
        assert idp.fetches == 2  # one refresh after the floor, then quiet again
        await check.keys.close()

    asyncio.run(run())


def test_concurrent_requests_share_one_fetch(idp: JwksServer) -> None:
    """Fifty requests arriving before the keys are known cause one fetch, which they all wait for."""

    async def run() -> None:
        check = verifier(idp, Clock())
        tokens = [idp.keys[0].sign(claims(f"user-{i}")) for i in range(50)]
        found = await asyncio.gather(*(check.principal(token) for token in tokens))
        assert [p.user_id for p in found] == [f"user-{i}" for i in range(50)]
        assert idp.fetches == 1
        await check.keys.close()

    asyncio.run(run())


def test_a_slow_fetch_does_not_block_the_event_loop(idp: JwksServer) -> None:
    """While the identity provider takes its time, other work on the loop carries on."""

    async def run() -> None:
        check = verifier(idp, Clock())
        idp.gate.clear()
        pending = asyncio.ensure_future(check.principal(idp.keys[0].sign(claims())))
        await asyncio.to_thread(idp.waiting.wait, 10)  # the fetch is under way and held
        other = await asyncio.wait_for(asyncio.sleep(0, result="ran"), timeout=5)
        assert other == "ran" and not pending.done()
        idp.gate.set()
        assert (await pending).user_id == "alice"
        await check.keys.close()

    asyncio.run(run())


def test_an_unreachable_provider_is_a_503_then_old_keys_are_kept(idp: JwksServer) -> None:
    """No keys yet and the fetch fails: 503 (retry later), not 401; later failures keep the keys."""
    clock = Clock()

    async def run() -> None:
        check = verifier(idp, clock, floor=10, cache=30)
        idp.status = 500
        with pytest.raises(KeysUnavailableError) as caught:
            await check.principal(idp.keys[0].sign(claims()))
        assert caught.value.status == 503
        idp.status = 200
        clock.now += 11
        await check.principal(idp.keys[0].sign(claims()))
        idp.status = 500
        clock.now += 31  # the cache expired and the refresh fails: the known keys still work
        assert (await check.principal(idp.keys[0].sign(claims("kept")))).user_id == "kept"
        assert idp.fetches == 3
        await check.keys.close()

    asyncio.run(run())


def test_unusable_keys_in_the_document_are_skipped() -> None:
    """A private or symmetric key published by mistake is never used; the good keys still are."""
    good = SigningKey("ed25519", kid="good")

    class Leaky(JwksServer):
        def document(self) -> bytes:
            import orjson

            bad = SigningKey("ec", kid="leaked").private_jwk() | {"kid": "leaked"}
            return orjson.dumps({"keys": [bad, {"kty": "oct", "k": "c2VjcmV0"}, good.public_jwk()]})

    with Leaky(good).running() as server:

        async def run() -> None:
            check = verifier(server, Clock())
            assert (await check.principal(good.sign(claims()))).user_id == "alice"
            with pytest.raises(AuthenticationError, match="does not know"):
                await check.principal(SigningKey("ec", kid="leaked").sign(claims()))
            await check.keys.close()

        asyncio.run(run())


def test_keys_over_https_from_a_provider_with_a_private_ca() -> None:
    """The identity provider's certificate is checked against the CA (and its name against the URL)."""
    ca = TestCA()
    with JwksServer(SigningKey("rsa", kid="one"), tls=ca.server_context("localhost")).running() as idp:
        assert idp.url.startswith("https://localhost:")

        async def run() -> None:
            trusted = verifier(idp, Clock(), http=HttpPool(tls=ca.client_context()))
            assert (await trusted.principal(idp.keys[0].sign(claims()))).user_id == "alice"
            await trusted.keys.close()
            untrusted = verifier(idp, Clock())  # the system's CAs: the test CA is unknown
            with pytest.raises(KeysUnavailableError):
                await untrusted.principal(idp.keys[0].sign(claims()))
            await untrusted.keys.close()

        asyncio.run(run())
        assert idp.fetches == 1  # the refused handshake never reached the document


def test_a_moved_document_is_followed(idp: JwksServer) -> None:
    """The identity provider redirects (a new path, a CDN): up to three hops are followed."""
    idp.redirects["/.well-known/jwks.json"] = "/v2/keys"
    idp.redirects["/v2/keys"] = "/v3/keys"

    async def run() -> None:
        check = verifier(idp, Clock())
        assert (await check.principal(idp.keys[0].sign(claims()))).user_id == "alice"
        await check.keys.close()

    asyncio.run(run())
    assert idp.paths == ["/.well-known/jwks.json", "/v2/keys", "/v3/keys"]


def test_an_oversized_document_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    """A document over 1 MiB is not read past the limit: no keys, a 503, and a log line saying why."""

    class Huge(JwksServer):
        def document(self) -> bytes:
            keys = [self.keys[0].public_jwk()] + [{"kty": "oct", "k": "x" * 1000}] * 1100
            return orjson.dumps({"keys": keys})

    with Huge(SigningKey("rsa", kid="one")).running() as server:

        async def run() -> None:
            check = verifier(server, Clock())
            with pytest.raises(KeysUnavailableError):
                await check.principal(server.keys[0].sign(claims()))
            await check.keys.close()

        asyncio.run(run())
    assert "larger than 1048576 bytes" in caplog.text
