"""JSON values carried in links, signed so that nobody can forge or change one: ``payload.signature``, both
URL-safe base64 without padding; the payload is the compact JSON, the signature the first 20 bytes of its
HMAC-SHA256. Unsubscribe links (outreach/unsubscribe.py) and the Home tab's chart links (bot/charts.py) use it,
each with a key of its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignedTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def dumps(self, value: object) -> str:
        payload = _b64(json.dumps(value, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def loads(self, token: str) -> Any:
        """The value of a genuine token; None for anything else (a forged or altered one, or not JSON)."""
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            return json.loads(_unb64(payload))
        except ValueError:
            return None

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:20])
