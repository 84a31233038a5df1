"""What the core needs from the outside world, as small Protocols. Adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from outreach.models import OutgoingEmail, OutgoingMessage, ScanVerdict


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class Sniffer(Protocol):
    def sniff(self, data: bytes) -> str:
        """The MIME type of ``data`` judged by its content (``application/pdf`` …)."""
        ...


class Scanner(Protocol):
    def scan(self, data: bytes) -> ScanVerdict:
        """Scan ``data`` for malware. Never raises for scanner trouble: that is UNSCANNABLE."""
        ...


class MailSession(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Send one message on the open connection; returns the Message-ID. Raises DeliveryFailed."""
        ...


class Mailer(Protocol):
    def open(self) -> MailSession:
        """Open one connection for a batch. Use as a context manager: ``with mailer.open() as s``."""
        ...

    def send_many(self, emails: Sequence[OutgoingEmail]) -> list[str | Exception]:
        """Send several on one connection; one result (Message-ID or the error) per e-mail, in order."""
        ...


class MessageTransport(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Deliver an in-platform message; returns the provider's message id. Raises DeliveryFailed."""
        ...
