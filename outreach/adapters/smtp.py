"""E-mail over SMTP: one connection per batch, failures classified for retries.

:class:`SmtpMailer` implements :class:`outreach.ports.Mailer`. ``open()`` gives a :class:`SmtpSession`
that connects on its first send (plain, STARTTLS or implicit TLS; login only when a username is set)
and reuses that connection for every later send. A connection the server dropped (or closed with 421)
before the message content went out is reopened once and the message tried again on it; a connection
lost *after* the content went out is reported, not retried, since the message may have been delivered.

Every failure is raised as :class:`~outreach.errors.DeliveryFailed` carrying a
:class:`~outreach.errors.Refusal` (:func:`classify` makes it from the smtplib or socket error):

* permanent — a 5xx reply (refused sender or recipient, rejected data, failed login), a message that
  cannot be built or needs SMTPUTF8 the server lacks: retrying the same message will not help; and a
  connection lost (or silent) after the content went out: the message may have been delivered, and it is
  sent at most once (see :mod:`outreach.delivery`), so nobody retries it by themselves;
* transient — a 4xx reply (greylisting, mailbox busy, 421 closing), connection refused or dropped,
  timeouts and TLS trouble: a later attempt may succeed;
* a bounce (permanent, and the address goes on the suppression list) — a recipient refused with a 5xx.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Literal, Self, cast

from outreach.errors import DeliveryFailed, Refusal
from outreach.mailframe import Frame, FrameKey, frame_key
from outreach.mailmsg import MAIL_POLICY, MAIL_POLICY_UTF8, build_message, mail_from_address, needs_smtputf8
from outreach.models import Attachment, MailAccount, OutgoingEmail, ReadyMail, SmtpServer

Security = Literal["none", "starttls", "tls"]
SECURITY_MODES: tuple[Security, ...] = ("none", "starttls", "tls")
FRAMES_KEPT = 8  # the frames (a send's shared bytes) a mailer keeps: as many sends as a worker makes at once
_LINE_DOT = re.compile(rb"(?m)^\.")
_PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")
_LARGE_CHUNK = 64 * 1024  # bytes: a chunk this large is written alone rather than copied into a buffer


class SmtpMailer:
    def __init__(  # noqa: PLR0917 (the positional order mirrors the SMTP_* settings)
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        security: Security,
        mail_from: str,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        *,
        message_id_domain: str = "",
        local_hostname: str | None = None,
        verp: bool = False,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.security: Security = security
        self.mail_from = mail_from
        self.envelope_from = mail_from_address(mail_from)
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.message_id_domain = message_id_domain or self.envelope_from.rpartition("@")[2]
        self.local_hostname = local_hostname
        self.verp = (
            verp  # honour each message's return_path as its envelope sender (bounces name the delivery)
        )
        self._frames: OrderedDict[FrameKey, Frame] = OrderedDict()  # the sends being made, most recent last
        self._frames_lock = threading.Lock()

    def open(self) -> SmtpSession:
        return SmtpSession(self)

    def frame(self, email: OutgoingEmail) -> Frame | None:
        """The frame of ``email``'s send (made on its first message, kept for the next ones), or None for a
        message that needs SMTPUTF8. Raises ValueError for a sender or reply-to that cannot be written."""
        key = frame_key(email, self.mail_from)
        if key is None:
            return None
        with self._frames_lock:
            frame = self._frames.get(key)
            if frame is not None and _same_files(frame.attachments, email.attachments):
                self._frames.move_to_end(key)
                return frame
        frame = Frame(email, self.mail_from)  # outside the lock: encoding a large attachment takes a while
        with self._frames_lock:
            self._frames[key] = frame
            while len(self._frames) > FRAMES_KEPT:
                self._frames.popitem(last=False)
        return frame

    def _context(self) -> ssl.SSLContext:
        """The TLS context, made once (building one reads the system's CA store) and only when TLS is used."""
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context

    def connect(self) -> smtplib.SMTP:
        """A fresh, greeted, secured and (when configured) logged-in connection. Raises DeliveryFailed."""
        smtp: smtplib.SMTP | None = None
        try:
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=self._context(),
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
            _no_delay(smtp)
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
            return smtp
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                _close_quietly(smtp)
            raise _failed(exc, f"cannot connect to {self.host}:{self.port}") from exc


class SmtpSession:
    """One connection for a batch. Not thread-safe: one session per worker thread."""

    def __init__(self, mailer: SmtpMailer) -> None:
        self._mailer = mailer
        self._smtp: smtplib.SMTP | None = None
        self._broken: Refusal | None = None  # the connection could not be made: fail fast
        self.connections = 0  # how many connections this session opened

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, email: OutgoingEmail) -> str:
        return self.send_ready(self.build(email))

    def build(self, email: OutgoingEmail) -> ReadyMail:
        mailer = self._mailer
        envelope_to = email.to.strip()
        envelope_from = email.return_path if mailer.verp and email.return_path else mailer.envelope_from
        try:
            frame = mailer.frame(email) if (envelope_to + envelope_from).isascii() else None
            if frame is not None:
                parts, message_id = frame.render(email, mailer.message_id_domain)
                return ReadyMail(envelope_to, parts, message_id, False, envelope_from)
            msg = build_message(email, mailer.mail_from, mailer.message_id_domain)
        except ValueError as exc:
            raise DeliveryFailed(f"the message cannot be built: {exc}", permanent=True) from exc
        international = needs_smtputf8(msg) or not (envelope_to + envelope_from).isascii()
        data = msg.as_bytes(policy=MAIL_POLICY_UTF8 if international else MAIL_POLICY)
        return ReadyMail(envelope_to, (data,), str(msg["Message-ID"]), international, envelope_from)

    def send_ready(self, mail: ReadyMail) -> str:
        try:
            self._deliver(mail)
        except _Dropped:
            self._discard()
            try:
                self._deliver(mail)  # once more, on a new connection
            except _Dropped as again:
                self._discard()
                raise _failed(again.cause, "the server dropped the connection again") from again.cause
        return mail.message_id

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._broken is not None:
            raise DeliveryFailed.of(self._broken)
        if self._smtp is None or self._smtp.sock is None:
            try:
                self._smtp = self._mailer.connect()
            except DeliveryFailed as exc:
                self._broken = exc.refusal
                raise
            self.connections += 1
        return self._smtp

    def _deliver(self, mail: ReadyMail) -> None:
        """One mail transaction on the current connection.

        Raises _Dropped when the connection was lost before the message content went out (or the server
        said 421): nothing was delivered, so sending again is safe. A connection lost or timing out after
        the content went out is a transient DeliveryFailed and is *not* retried here: the server may have
        accepted the message, and sending it again could deliver it twice.
        """
        smtp = self._connection()
        if mail.international and not smtp.has_extn("smtputf8"):
            raise DeliveryFailed(
                "an internationalised address needs SMTPUTF8, which the server does not offer", permanent=True
            )
        options = ["SMTPUTF8", "BODY=8BITMIME"] if mail.international else []
        try:
            self._envelope(smtp, mail.to, mail.envelope_from or self._mailer.envelope_from, options)
        except (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLEOFError) as exc:
            raise _Dropped(exc) from exc
        except (smtplib.SMTPException, OSError) as exc:  # a timeout: the connection's state is unknown
            self._discard()
            raise _failed(exc) from exc
        try:
            code, reply = _data(smtp, mail.parts)
        except smtplib.SMTPDataError as exc:  # refused at the DATA command, before the content
            self._answered(smtp, exc.smtp_code)
            raise _failed(exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._discard()
            lost = classify(exc, "no answer after the message was sent (it may have been delivered)")
            raise DeliveryFailed(lost.reason, permanent=True) from exc  # at most once: never retried
        if code != 250:
            self._answered(smtp, code)
            raise _failed(smtplib.SMTPDataError(code, reply))

    def _envelope(self, smtp: smtplib.SMTP, to: str, sender: str, options: list[str]) -> None:
        """MAIL FROM and RCPT TO; a refusal is raised as DeliveryFailed (421: _Dropped)."""
        code, reply = _command(smtp, "mail", "FROM", sender, options)
        if code != 250:
            self._answered(smtp, code)
            raise _failed(smtplib.SMTPSenderRefused(code, reply, sender))
        code, reply = _command(smtp, "rcpt", "TO", to, [])
        if code not in (250, 251):
            self._answered(smtp, code)
            raise _failed(smtplib.SMTPRecipientsRefused({to: (code, reply)}))

    def _answered(self, smtp: smtplib.SMTP, code: int) -> None:
        """After a refusal: 421 means the server is closing (retry on a new connection), else reset."""
        if code == 421:
            self._discard()
            raise _Dropped(smtplib.SMTPResponseException(code, b"service closing transmission channel"))
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()

    def _discard(self) -> None:
        if self._smtp is not None:
            _close_quietly(self._smtp)
            self._smtp = None


class _Dropped(Exception):
    """The server closed the connection under us (the message was not accepted)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def classify(exc: BaseException, context: str = "") -> Refusal:
    """The refusal an smtplib or socket error stands for: 5xx permanent (a refused recipient: a bounce),
    everything else passing."""
    prefix = f"{context}: " if context else ""
    if isinstance(exc, DeliveryFailed):
        return exc.refusal
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.items())
        code, reply = replies[0][1] if replies else (550, b"recipient refused")
        who = ", ".join(addr for addr, _ in replies)
        return Refusal(
            f"{prefix}recipient {who} refused: {code} {_text(reply)}",
            permanent=code >= 500,
            bounce=code >= 500,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        what = {
            smtplib.SMTPSenderRefused: "sender refused",
            smtplib.SMTPDataError: "message refused",
            smtplib.SMTPAuthenticationError: "login refused",
            smtplib.SMTPConnectError: "connection refused by the server",
        }.get(type(exc), "server replied")
        return Refusal(
            f"{prefix}{what}: {exc.smtp_code} {_text(exc.smtp_error)}", permanent=exc.smtp_code >= 500
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Refusal(f"{prefix}{exc}", permanent=True)
    if isinstance(exc, TimeoutError):
        return Refusal(f"{prefix}timed out", permanent=False)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Refusal(f"{prefix}connection dropped: {exc}", permanent=False)
    if isinstance(exc, ssl.SSLError):
        return Refusal(f"{prefix}TLS failed: {exc}", permanent=False)
    if isinstance(exc, OSError):
        return Refusal(f"{prefix}{exc.strerror or exc}", permanent=False)
    return Refusal(f"{prefix}{exc}", permanent=False)


def _same_files(kept: tuple[Attachment, ...], given: tuple[Attachment, ...]) -> bool:
    """Whether a frame's files are these (names, types, sizes and hashes already match: the frame's key); the same
    objects as a rule (a worker keeps a sending draft), else compared byte for byte."""
    return kept is given or all(
        a.data is b.data or a.data == b.data for a, b in zip(kept, given, strict=True)
    )


def _data(smtp: smtplib.SMTP, parts: tuple[bytes, ...]) -> tuple[int, bytes]:
    """``smtp.data`` for a message in chunks (each starting a line, the last ending in CRLF). Small chunks are
    joined and written at once (a write per chunk would cost a round trip each, Nagle's algorithm waiting for the
    peer's delayed ACK); a large one (a send's shared attachment) is written as it is, never copied. Lines
    starting with a dot are doubled (RFC 5321 4.5.2), chunk by chunk, only in the chunks that have one."""
    code, reply = smtp.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    pending: list[bytes] = []
    for part in parts:
        dotted = part.startswith(b".") or b"\n." in part
        chunk = _LINE_DOT.sub(b"..", part) if dotted else part
        if len(chunk) < _LARGE_CHUNK:
            pending.append(chunk)
            continue
        if pending:
            smtp.send(b"".join(pending))
            pending = []
        smtp.send(chunk)
    if parts and not parts[-1].endswith(b"\r\n"):
        pending.append(b"\r\n")
    pending.append(b".\r\n")
    smtp.send(b"".join(pending))
    return smtp.getreply()


def _failed(exc: BaseException, context: str = "") -> DeliveryFailed:
    return DeliveryFailed.of(classify(exc, context))


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _command(
    smtp: smtplib.SMTP, verb: str, field: str, address: str, options: list[str]
) -> tuple[int, bytes]:
    """MAIL FROM or RCPT TO. A plain address (our envelopes: validated, ASCII) is written as ``<address>``
    directly; smtplib's own ``mail``/``rcpt`` parse it again with the email package first, which costs more than
    the rest of the command. Anything else (options, an address to quote) goes through smtplib."""
    if options or not _PLAIN_ADDRESS.match(address):
        return smtp.mail(address, options) if verb == "mail" else smtp.rcpt(address, options)
    smtp.putcmd(verb, f"{field}:<{address}>")
    return smtp.getreply()


def _no_delay(smtp: smtplib.SMTP) -> None:
    """Commands and replies alternate: a short write need not wait for the peer's ACK (Nagle's algorithm)."""
    if smtp.sock is not None:
        with contextlib.suppress(OSError):
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _close_quietly(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


def login_tester(
    timeout: float = 15.0, ssl_context: ssl.SSLContext | None = None
) -> Callable[[MailAccount], None]:
    """Try a user's own account: connect, secure and log in, then quit. Raises DeliveryFailed if that fails."""

    def test(account: MailAccount) -> None:
        mailer = SmtpMailer(
            account.host,
            account.port,
            account.username,
            account.password,
            cast(Security, account.security),
            account.from_address,
            timeout,
            ssl_context,
        )
        smtp = mailer.connect()
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        _close_quietly(smtp)

    return test


def account_mailer(account: MailAccount, timeout: float, sender_fallback: str = "") -> SmtpMailer:
    """A mailer for a user's own account: their server, their login, their address in From."""
    return SmtpMailer(
        account.host,
        account.port,
        account.username,
        account.password,
        cast(Security, account.security),
        account.from_address or sender_fallback,
        timeout,
    )


def server_tester(
    timeout: float = 15.0, ssl_context: ssl.SSLContext | None = None, *, deadline: float | None = None
) -> Callable[[SmtpServer, str], None]:
    """Try a workspace's own server (its settings): connect, secure and log in (with a user name), then quit.
    Raises DeliveryFailed, with the server's answer, if that fails — or, with ``deadline``, when the whole try
    has not finished within that many seconds (each step's ``timeout`` alone could add up beyond it)."""

    def attempt(server: SmtpServer, from_address: str) -> None:
        mailer = SmtpMailer(
            server.host,
            server.port,
            server.username,
            server.password,
            cast(Security, server.security),
            from_address,
            timeout,
            ssl_context,
        )
        smtp = mailer.connect()
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        _close_quietly(smtp)

    def test(server: SmtpServer, from_address: str) -> None:
        if deadline is None:
            attempt(server, from_address)
            return
        failures: list[DeliveryFailed] = []
        done = threading.Event()

        def run() -> None:
            try:
                attempt(server, from_address)
            except DeliveryFailed as err:
                failures.append(err)
            finally:
                done.set()

        threading.Thread(target=run, name="smtp-settings-test", daemon=True).start()
        if not done.wait(deadline):
            raise DeliveryFailed(
                f"cannot connect to {server.host}:{server.port}: no complete answer within {deadline:g} seconds",
                permanent=False,
            )
        if failures:
            raise failures[0]

    return test
