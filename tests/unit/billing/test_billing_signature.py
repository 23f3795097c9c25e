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


def test_the_documented_receiver_recipe_verifies_what_bastion_sends() -> None:
    """docs/billing.md's verification code runs, and accepts Bastion's own signatures."""
    import re
    import time
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "billing.md").read_text()
    [code] = [
        block
        for block in re.findall(r"^```python\n(.*?)^```", doc, re.MULTILINE | re.DOTALL)
        if "def verify(" in block
    ]
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/billing.md", "exec"), namespace)
    documented = namespace["verify"]
    assert callable(documented)
    now = int(time.time())
    assert documented("whsec", sign("whsec", BODY, now), BODY, now=now)
    assert not documented("whsec", sign("whsec", BODY, now - 301), BODY, now=now)
    assert not documented("other", sign("whsec", BODY, now), BODY, now=now)
    # The same arguments as Bastion's own, so a receiver can switch to it.
    assert documented("whsec", sign("whsec", BODY, now), BODY, now=now) == verify(
        "whsec", sign("whsec", BODY, now), BODY, now=now
    )
