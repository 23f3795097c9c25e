"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"``, sent as ``Bastion-Signature``.

The header reads ``t=1760000000,v1=5257a869...`` (Stripe's scheme). To verify a delivery:

1. Split the header on ``,`` into ``t`` and ``v1``.
2. Reject it if ``t`` is more than five minutes from your clock (a replay).
3. Compute ``HMAC-SHA256(secret, f"{t}." + raw_body)`` as hex, over the raw bytes received.
4. Compare it with ``v1`` in constant time (``hmac.compare_digest``).
5. Drop a repeated ``Idempotency-Key``: delivery is at least once.

:func:`verify` does steps 1-4.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TOLERANCE_SECONDS", "sign", "verify"]

SIGNATURE_HEADER = "Bastion-Signature"
TOLERANCE_SECONDS = 300


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Bastion-Signature`` header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(
    secret: str, header: str, body: bytes, *, now: float, tolerance: float = TOLERANCE_SECONDS
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and was made within ``tolerance`` of ``now``."""
    parts = dict(part.strip().partition("=")[::2] for part in header.split(","))
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(_digest(secret, body, timestamp), parts.get("v1", ""))
