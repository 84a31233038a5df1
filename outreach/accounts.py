"""Users' own e-mail accounts: their e-mails go out through their SMTP server, with their address in From.

The login is tried before anything is stored; the password is kept encrypted (a :class:`Cipher`, Fernet with
SECRET_KEY in production) and is never shown or logged again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from outreach.errors import DeliveryFailed, Problem, ValidationFailed
from outreach.models import AuditEvent, MailAccount, StoredAccount
from outreach.ports import Clock, UnitOfWork
from outreach.validation import check_email_address, control_characters

SECURITIES = ("none", "starttls", "tls")


class Cipher(Protocol):
    def encrypt(self, text: str) -> str: ...

    def decrypt(self, token: str) -> str: ...


AccountTester = Callable[[MailAccount], None]  # raises DeliveryFailed when the login does not work


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
    return problems


class AccountService:
    def __init__(
        self, *, uow: Callable[[], UnitOfWork], clock: Clock, cipher: Cipher | None, tester: AccountTester
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._cipher = cipher
        self._tester = tester

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
        account = MailAccount(
            account.team_id,
            account.user_id,
            account.host.strip(),
            account.port,
            account.security,
            account.username.strip(),
            account.password,
            address or account.from_address,
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
        stored = StoredAccount(
            account.team_id,
            account.user_id,
            account.host,
            account.port,
            account.security,
            account.username,
            self._cipher.encrypt(account.password),
            account.from_address,
        )
        with self._uow() as uow:
            uow.accounts.put(stored)
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
        )
