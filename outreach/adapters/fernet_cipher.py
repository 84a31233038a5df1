"""Encryption of stored secrets (users' SMTP passwords) with cryptography's Fernet, keyed by SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet


class FernetCipher:
    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters long")
        digest = hashlib.sha256(b"prospect-outreach/fernet/" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()
