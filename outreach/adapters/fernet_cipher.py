"""Encryption of stored secrets (users' SMTP passwords, workspaces' Slack tokens) with cryptography's Fernet,
keyed by SECRET_KEY.

Rotation: ``FernetCipher(new, old)`` encrypts with the first key and decrypts with any of them (a
``MultiFernet``), so SECRET_KEY can change while rows written under the old key (SECRET_KEY_PREVIOUS) stay
readable; ``rotate`` re-encrypts one value under the first key. A value under a key that is not given cannot be
read: ``decrypt`` raises :class:`Unreadable`.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Unreadable(ValueError):
    """A stored secret that none of the keys given can decrypt (written under another SECRET_KEY, or damaged)."""


def _fernet(secret_key: str) -> Fernet:
    if len(secret_key) < 16:
        raise ValueError("SECRET_KEY must be at least 16 characters long")
    digest = hashlib.sha256(b"prospect-outreach/fernet/" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class FernetCipher:
    def __init__(self, secret_key: str, *previous: str) -> None:
        self._fernet = MultiFernet([_fernet(k) for k in (secret_key, *previous) if k])

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise Unreadable("written under a key that is not SECRET_KEY or SECRET_KEY_PREVIOUS") from None

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the first key (raises :class:`Unreadable` like ``decrypt``)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise Unreadable("written under a key that is not SECRET_KEY or SECRET_KEY_PREVIOUS") from None
