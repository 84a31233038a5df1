"""Users' own SMTP accounts. The password is stored encrypted; this repository only sees ciphertext."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from outreach.models import StoredAccount
from outreach.ports import Clock
from storage.models import MailAccountRow


class SqlMailAccountRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def put(self, account: StoredAccount) -> None:
        self.remove(account.team_id, account.user_id)
        self._session.add(
            MailAccountRow(
                team_id=account.team_id,
                user_id=account.user_id,
                host=account.host,
                port=account.port,
                security=account.security,
                username=account.username,
                password_encrypted=account.password_encrypted,
                from_address=account.from_address,
                created_at=self._clock.now(),
                imap_host=account.imap_host,
                imap_port=account.imap_port,
                imap_security=account.imap_security,
            )
        )
        self._session.flush()

    def get(self, team_id: str, user_id: str) -> StoredAccount | None:
        row = self._session.scalars(
            select(MailAccountRow).where(MailAccountRow.team_id == team_id, MailAccountRow.user_id == user_id)
        ).first()
        if row is None:
            return None
        return StoredAccount(
            row.team_id,
            row.user_id,
            row.host,
            row.port,
            row.security,
            row.username,
            row.password_encrypted,
            row.from_address,
            row.imap_host,
            row.imap_port,
            row.imap_security,
        )

    def remove(self, team_id: str, user_id: str) -> bool:
        result = self._session.execute(
            delete(MailAccountRow).where(MailAccountRow.team_id == team_id, MailAccountRow.user_id == user_id)
        )
        return bool(getattr(result, "rowcount", 0))

    def reencrypt(
        self, rotate: Callable[[str], str], unreadable: tuple[type[Exception], ...]
    ) -> tuple[int, int]:
        """Every stored password through ``rotate`` (a cipher's re-encryption under its current key); returns
        (rewritten, left as they were because ``rotate`` raised one of ``unreadable``). For key rotation."""
        rewritten = skipped = 0
        for row in self._session.scalars(select(MailAccountRow)):
            try:
                row.password_encrypted = rotate(row.password_encrypted)
            except unreadable:
                skipped += 1
                continue
            rewritten += 1
        self._session.flush()
        return rewritten, skipped
