"""The messaging platform's signed requests, both ways: what the webhook adapter signs and the inbound route checks.

A request's body is signed with HMAC-SHA256 over ``v1:{timestamp}:{body}`` (timestamp in Unix seconds) with
MESSAGES_WEBHOOK_SECRET, and sent as ``X-Outreach-Signature: v1=<hex>`` beside ``X-Outreach-Timestamp``;
``Idempotency-Key`` names a request that may come twice. Outgoing messages are signed by
:class:`outreach.adapters.webhook.WebhookTransport`; the platform's replies are checked by ``bot/inbound.py``.
One module for both, so that the Slack adapter checks a signature without importing an adapter.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "X-Outreach-Timestamp"
SIGNATURE_HEADER = "X-Outreach-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str | bytes, timestamp: str | int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (Unix seconds): ``v1=<hex>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    signed = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    return f"{SIGNATURE_VERSION}={hmac.new(key, signed, hashlib.sha256).hexdigest()}"


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime | float,
    *,
    tolerance: float = 300,
) -> bool:
    """True when ``signature`` is ours for this body and timestamp, and the timestamp is within
    ``tolerance`` seconds of ``now`` (either way). Compares in constant time. Never raises."""
    if not secret or not timestamp.isdigit() or not signature.startswith(f"{SIGNATURE_VERSION}="):
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())
