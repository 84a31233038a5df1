"""Fakes for the sending ports: ``Mailer``/``MailSession`` (outreach/ports.py) and ``MessageTransport``.

They keep what they send, in order, and refuse what a test tells them to (``refuse(address, failure)``); a
``before_send`` hook runs before each message leaves, so a test can move a clock or stop the worker there.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from outreach.errors import DeliveryFailed
from outreach.models import OutgoingEmail, OutgoingMessage, ReadyMail


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []  # what left, in order
        self.sessions: list[FakeMailSession] = []
        self.before_send: Callable[[OutgoingEmail], None] | None = None
        self._refused: dict[str, DeliveryFailed] = {}
        self._unbuildable: dict[str, DeliveryFailed] = {}
        self._built = 0
        self.built: dict[str, OutgoingEmail] = {}  # message id → the e-mail it was built from

    # -- what a test sets up and reads ------------------------------------------------------------------
    def refuse(self, address: str, failure: DeliveryFailed) -> None:
        """Every send to ``address`` raises ``failure`` until ``accept(address)``."""
        self._refused[address] = failure

    def accept(self, address: str) -> None:
        self._refused.pop(address, None)

    def cannot_build(self, address: str, failure: DeliveryFailed) -> None:
        """``build`` of a message to ``address`` raises ``failure`` (a message that cannot be made)."""
        self._unbuildable[address] = failure

    @property
    def addressed(self) -> list[str]:
        """The envelope recipients of what was sent, in order."""
        return [email.to for email in self.sent]

    # -- the port ---------------------------------------------------------------------------------------
    def open(self) -> FakeMailSession:
        session = FakeMailSession(self)
        self.sessions.append(session)
        return session

    def _build(self, email: OutgoingEmail) -> tuple[ReadyMail, OutgoingEmail]:
        if email.to in self._unbuildable:
            raise self._unbuildable[email.to]
        self._built += 1
        message_id = f"<{self._built}@fake.example>"
        data = f"To: {email.to}\r\nSubject: {email.subject}\r\n\r\n{email.text}".encode()
        return ReadyMail(email.to, (data,), message_id, international=not email.to.isascii()), email

    def _send(self, email: OutgoingEmail, mail: ReadyMail) -> str:
        if self.before_send is not None:
            self.before_send(email)
        if mail.to in self._refused:
            raise self._refused[mail.to]
        self.sent.append(email)
        return mail.message_id


class FakeMailSession:
    def __init__(self, mailer: FakeMailer) -> None:
        self._mailer = mailer
        # message id → the e-mail it was built from, by any session of the mailer (a real session's build needs
        # only the mailer: a worker builds on one connection's session and sends on whichever is free)
        self._built: dict[str, OutgoingEmail] = mailer.built
        self.closed = False

    def send(self, email: OutgoingEmail) -> str:
        return self.send_ready(self.build(email))

    def build(self, email: OutgoingEmail) -> ReadyMail:
        mail, built = self._mailer._build(email)
        self._built[mail.message_id] = built
        return mail

    def send_ready(self, mail: ReadyMail) -> str:
        if mail.message_id not in self._built:
            raise ValueError("send_ready takes a message built by a session of this mailer")
        return self._mailer._send(self._built[mail.message_id], mail)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FakeTransport:
    """A ``MessageTransport`` that keeps every message and numbers them; ``refuse(mpid, failure)`` as above."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self._refused: dict[str, DeliveryFailed] = {}

    def refuse(self, mpid: str, failure: DeliveryFailed) -> None:
        self._refused[mpid] = failure

    def send(self, message: OutgoingMessage) -> str:
        if message.mpid in self._refused:
            raise self._refused[message.mpid]
        self.sent.append(message)
        return f"msg-{len(self.sent)}"
