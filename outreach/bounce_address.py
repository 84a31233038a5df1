"""VERP: the envelope sender (Return-Path) of each e-mail names its delivery, signed, so a bounce finds its send.

A workspace e-mail (sent through SMTP_HOST) goes out with the envelope sender
``<local>+b<delivery id in base 36>.<mac>@<domain>`` of the bounce address (BOUNCE_ADDRESS, else MAIL_FROM's
address: plus-addressing, which most mail servers deliver to the base mailbox). A bounce is sent to that
address, so it names the delivery even when the reporting server returns none of the original message.

``<mac>``: the first 12 characters (60 bits) of the lower-case base 32 HMAC-SHA256, keyed with the app's
signing key (SECRET_KEY, or the key the app keeps in its database), of ``bounce:<workspace>:<delivery id>``: an
address cannot be made up for another delivery, nor moved to another workspace. Everything is lower case:
mail systems may fold the case of local parts.

Users' own mailboxes keep their own address as the envelope sender (their servers require it); their bounces
are matched by the Message-ID of the returned headers, and read from their mailbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

MAC_LENGTH = 12
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class BounceAddresses:
    def __init__(self, key: bytes, base: str) -> None:
        local, at, domain = base.strip().rpartition("@")
        if not at or not local or not domain:
            raise ValueError(f"the bounce address {base!r} is not an e-mail address")
        self._key = key
        self._local = local.split("+", 1)[0].lower()
        self._domain = domain.lower()
        self._pattern = re.compile(
            rf"^{re.escape(self._local)}\+b([0-9a-z]{{1,13}})\.([a-z2-7]{{{MAC_LENGTH}}})@{re.escape(self._domain)}$"
        )

    def address(self, team_id: str, delivery_id: int) -> str:
        """The envelope sender of this delivery's e-mail."""
        return f"{self._local}+b{_base36(delivery_id)}.{self._mac(team_id, delivery_id)}@{self._domain}"

    def delivery_in(self, addresses: Iterable[str]) -> tuple[int, str] | None:
        """(delivery id, mac) of the first of ``addresses`` that has the form of ours; check it with
        :meth:`valid` once the delivery's workspace is known."""
        for address in addresses:
            found = self._pattern.match(address.strip().lower())
            if found:
                return int(found[1], 36), found[2]
        return None

    def valid(self, team_id: str, delivery_id: int, mac: str) -> bool:
        return hmac.compare_digest(self._mac(team_id, delivery_id), mac)

    def _mac(self, team_id: str, delivery_id: int) -> str:
        digest = hmac.new(self._key, f"bounce:{team_id}:{delivery_id}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii").lower()[:MAC_LENGTH]


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError("a delivery id is not negative")
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
        if not number:
            return digits
