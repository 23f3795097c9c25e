"""Webhook signatures: what the sender signs is what a receiver verifies, and nothing else."""

from __future__ import annotations

from bastion.billing.signature import sign, verify

BODY = b'{"idempotency_key":"spend:r1","amount_usd":"0.03"}'


def test_a_signature_verifies_within_the_tolerance() -> None:
    header = sign("whsec", BODY, 1_760_000_000)
    assert header.startswith("t=1760000000,v1=")
    assert verify("whsec", header, BODY, now=1_760_000_000 + 299)


def test_replays_tampering_and_wrong_secrets_are_rejected() -> None:
    header = sign("whsec", BODY, 1_760_000_000)
    assert not verify("whsec", header, BODY, now=1_760_000_000 + 301)  # too old: a replay
    assert not verify("whsec", header, BODY.replace(b"0.03", b"0.01"), now=1_760_000_000)
    assert not verify("other", header, BODY, now=1_760_000_000)
    assert not verify("whsec", "t=abc,v1=00", BODY, now=1_760_000_000)
    assert not verify("whsec", "garbage", BODY, now=1_760_000_000)
