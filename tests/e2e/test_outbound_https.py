"""Billing and the JWKS fetch over HTTPS, as real providers serve them: a gateway whose one HTTP
client trusts a private CA through ``SSL_CERT_FILE`` (as any OpenSSL program does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_billing import billing_config
from test_jwt_auth import jwt_auth
from test_sdk_passthrough import openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support.fake_billing import FakeBilling
from support.identity import JwksServer, SigningKey, claims
from support.test_ca import TestCA


def test_billing_and_jwks_over_https_with_a_private_ca(
    start_gateway: Callable[..., RunningGateway],
    upstream: MockUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keys fetched at start-up, the credit check, Autumn's track and the signed webhook: every
    call verified against the CA, by host name, on the gateway's one HTTP client."""
    ca = TestCA()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.write(tmp_path / "ca.pem")))
    signer = SigningKey("ec", kid="k1")
    with (
        FakeBilling(tls=ca.server_context("localhost")) as fake,
        JwksServer(signer, tls=ca.server_context("localhost")).running() as idp,
    ):
        assert fake.url.startswith("https://") and idp.url.startswith("https://")
        config = billing_config(
            fake,
            upstream,
            billing_interval_seconds=0.05,
            outbox_interval_seconds=0.05,
            entitlement={"cache_seconds": 300},
        )
        config["billing_settings"]["sinks"]["webhook"] = {
            "url": fake.url + "/webhook",
            "secret": fake.webhook_secret,
        }
        auth = jwt_auth([], jwks_url=idp.url)
        del auth["jwks"]
        config["bastion_settings"]["jwt_auth"] = auth
        gw = start_gateway(config)
        assert idp.fetches == 1  # at start-up

        token = signer.sign(claims("alice", org={"team": "writers"}))
        reply = openai_client(gw, token).chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
        assert reply.choices[0].message.content
        assert [check["customer_id"] for check in fake.checks] == ["writers"]
        assert fake.wait_for_calls(2, timeout=20)
        [track], [hook] = fake.calls("autumn"), fake.calls("webhook")
        assert track.fields["customer_id"] == "writers" and hook.signature_ok is True
