"""One-click unsubscribe (RFC 8058) links: signed, so nobody can unsubscribe an address they do not receive at.

Every e-mail carries ``List-Unsubscribe: <https://…/unsubscribe?t=TOKEN>`` and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click`` (mail clients POST to it), and the same link in its footer (a person opens a page
that asks them to confirm, so link scanners that GET it unsubscribe nobody). The token names the workspace and
the address and is signed with HMAC-SHA256; unsubscribing puts the address on the workspace's suppression list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import quote


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UnsubscribeLinks:
    def __init__(self, key: bytes, base_url: str) -> None:
        if len(key) < 16:
            raise ValueError("the unsubscribe signing key must be at least 16 bytes")
        self._key = key
        self._base = base_url.rstrip("/")

    def token(self, team_id: str, email: str) -> str:
        payload = _b64(json.dumps([team_id, email.strip().lower()], separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def url(self, team_id: str, email: str) -> str:
        return f"{self._base}/unsubscribe?t={quote(self.token(team_id, email))}"

    def verify(self, token: str) -> tuple[str, str] | None:
        """(team, address) for a genuine token, None for anything else."""
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            team_id, email = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        return (str(team_id), str(email)) if team_id and email else None

    def headers(self, team_id: str, email: str) -> tuple[tuple[str, str], ...]:
        return (
            ("List-Unsubscribe", f"<{self.url(team_id, email)}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        )

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:20])
