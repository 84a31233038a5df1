"""Users' own e-mail accounts: their e-mails go out through their SMTP server, with their address in From, and
their mailbox is read over IMAP for partners' replies and bounces (:mod:`outreach.mailbox_polling`).

The logins are tried before anything is stored — SMTP, then IMAP — and the password is kept encrypted (a
:class:`Cipher`, Fernet with SECRET_KEY in production) and never shown or logged again. The IMAP side uses the
same user name and password: its host defaults from the SMTP host (``smtp.example.com`` → ``imap.example.com``,
any other host as it is), its port from its security (993 for implicit TLS, 143 for STARTTLS; never clear
text); ``none`` as its host connects the account for sending only. Connecting again after the mailbox refused
the login (a changed password) starts polling again; a different mailbox is read from its recent mail on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from outreach.errors import DeliveryFailed, MailboxRefused, Problem, ValidationFailed
from outreach.models import AuditEvent, MailAccount, StoredAccount
from outreach.ports import Clock, UnitOfWork
from outreach.validation import check_email_address, control_characters

SECURITIES = ("none", "starttls", "tls")
IMAP_SECURITIES = ("tls", "starttls")
IMAP_PORTS = {"tls": 993, "starttls": 143}
NO_MAILBOX = "none"  # the IMAP host a user writes to connect for sending only


class Cipher(Protocol):
    def encrypt(self, text: str) -> str: ...

    def decrypt(self, token: str) -> str: ...


AccountTester = Callable[[MailAccount], None]  # raises DeliveryFailed when the login does not work
MailboxTester = Callable[[MailAccount], None]  # raises MailboxRefused when the mailbox cannot be read


def default_imap_host(smtp_host: str) -> str:
    """Where a provider's IMAP server usually is: ``smtp.`` becomes ``imap.``; any other host is taken as is."""
    host = smtp_host.strip().lower()
    return "imap." + host[len("smtp.") :] if host.startswith("smtp.") else host


def with_imap_defaults(account: MailAccount) -> MailAccount:
    """The account with its IMAP host and port filled in where the user left them empty (``none``: no mailbox)."""
    host = account.imap_host.strip()
    if host.lower() == NO_MAILBOX:
        return dataclasses.replace(account, imap_host="", imap_port=0, imap_security="")
    security = account.imap_security or "tls"
    return dataclasses.replace(
        account,
        imap_host=host or default_imap_host(account.host),
        imap_security=security,
        imap_port=account.imap_port or IMAP_PORTS.get(security, 0),
    )


def check_account(account: MailAccount) -> list[Problem]:
    problems: list[Problem] = []
    host = account.host.strip()
    if not host or control_characters(host) or " " in host:
        problems.append(
            Problem("host", "invalid_host", "Give the SMTP server's host name, like smtp.example.com.")
        )
    if not 0 < account.port < 65536:
        problems.append(
            Problem("port", "invalid_port", "The port is a number from 1 to 65535 (587, 465 or 25).")
        )
    if account.security not in SECURITIES:
        problems.append(Problem("security", "invalid_security", "Security is none, starttls or tls."))
    if not account.username.strip() or control_characters(account.username):
        problems.append(Problem("username", "required", "The user name is required."))
    if not account.password or control_characters(account.password):
        problems.append(Problem("password", "required", "The (app) password is required."))
    if check_email_address(account.from_address) is None:
        problems.append(Problem("from_address", "invalid_email", "Give the address your e-mails come from."))
    imap_host = account.imap_host.strip()
    if imap_host and (control_characters(imap_host) or " " in imap_host):
        problems.append(
            Problem("imap_host", "invalid_host", "Give the IMAP server's host name, like imap.example.com.")
        )
    if not 0 <= account.imap_port < 65536:
        problems.append(
            Problem("imap_port", "invalid_port", "The port is a number from 1 to 65535 (993 or 143).")
        )
    if account.imap_security and account.imap_security not in IMAP_SECURITIES:
        problems.append(Problem("imap_security", "invalid_security", "IMAP security is tls or starttls."))
    return problems


class AccountService:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        cipher: Cipher | None,
        tester: AccountTester,
        mailbox_tester: MailboxTester | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._cipher = cipher
        self._tester = tester
        self._mailbox_tester = mailbox_tester  # None: mailboxes are not read (an account only sends)

    @property
    def available(self) -> bool:
        """Only with a key to encrypt passwords with (SECRET_KEY)."""
        return self._cipher is not None

    def connect(self, account: MailAccount) -> MailAccount:
        """Check the fields, try the login, then store the account (replacing an earlier one)."""
        if self._cipher is None:
            raise ValidationFailed(
                [Problem("host", "not_available", "Personal e-mail needs SECRET_KEY to be set.")]
            )
        address = check_email_address(account.from_address)
        account = dataclasses.replace(
            account,
            host=account.host.strip(),
            username=account.username.strip(),
            from_address=address or account.from_address,
        )
        account = (
            with_imap_defaults(account)
            if self._mailbox_tester
            else dataclasses.replace(account, imap_host="")
        )
        problems = check_account(account)
        if problems:
            raise ValidationFailed(problems)
        try:
            self._tester(account)
        except DeliveryFailed as err:
            raise ValidationFailed(
                [Problem("password", "login_failed", f"The login did not work: {err.reason}")]
            ) from None
        if account.reads_mail and self._mailbox_tester is not None:
            try:
                self._mailbox_tester(account)
            except MailboxRefused as err:
                raise ValidationFailed(
                    [
                        Problem(
                            "imap_host",
                            "mailbox_failed",
                            f"Your mailbox could not be read over IMAP: {err.reason}",
                            (("reason", err.reason),),
                        )
                    ]
                ) from None
        stored = StoredAccount(
            account.team_id,
            account.user_id,
            account.host,
            account.port,
            account.security,
            account.username,
            self._cipher.encrypt(account.password),
            account.from_address,
            account.imap_host,
            account.imap_port,
            account.imap_security,
        )
        with self._uow() as uow:
            before = uow.accounts.get(account.team_id, account.user_id)
            same = before is not None and (before.imap_host, before.username) == (
                account.imap_host,
                account.username,
            )
            uow.accounts.put(stored)
            uow.mailboxes.reset(account.team_id, account.user_id, same_mailbox=same)
            uow.audit.record(
                AuditEvent(
                    account.team_id,
                    account.user_id,
                    "account.connected",
                    self._clock.now(),
                    detail=f"{account.username}@{account.host}",
                )
            )
            uow.commit()
        return account

    def disconnect(self, team_id: str, user_id: str) -> bool:
        with self._uow() as uow:
            removed = uow.accounts.remove(team_id, user_id)
            if removed:
                uow.audit.record(AuditEvent(team_id, user_id, "account.disconnected", self._clock.now()))
            uow.commit()
        return removed

    def get(self, team_id: str, user_id: str) -> MailAccount | None:
        if self._cipher is None:
            return None
        with self._uow() as uow:
            stored = uow.accounts.get(team_id, user_id)
        if stored is None:
            return None
        return MailAccount(
            stored.team_id,
            stored.user_id,
            stored.host,
            stored.port,
            stored.security,
            stored.username,
            self._cipher.decrypt(stored.password_encrypted),
            stored.from_address,
            stored.imap_host,
            stored.imap_port,
            stored.imap_security,
        )
