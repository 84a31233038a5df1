"""A workspace's own settings (table ``workspace_settings``); the secrets it sees are ciphertext only."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from outreach.models import WorkspaceSettings
from storage.models import WorkspaceSettingsRow
from storage.upsert import insert_for

_TABLE = cast(Table, WorkspaceSettingsRow.__table__)


class SqlWorkspaceSettings:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, team_id: str) -> WorkspaceSettings | None:
        row = self._session.get(
            WorkspaceSettingsRow, team_id, populate_existing=True
        )  # after a put: as written
        if row is None:
            return None
        return WorkspaceSettings(
            team_id=row.team_id,
            from_address=row.from_address,
            from_name=row.from_name,
            smtp_host=row.smtp_host,
            smtp_port=row.smtp_port,
            smtp_security=row.smtp_security,
            smtp_username=row.smtp_username,
            smtp_password=row.smtp_password_encrypted,
            webhook_url=row.webhook_url,
            webhook_secret=row.webhook_secret_encrypted,
            senders_usergroup=row.senders_usergroup,
            recent_contact_days=row.recent_contact_days,
            digest_time=row.digest_time,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
        )

    def put(self, settings: WorkspaceSettings) -> None:
        values = {
            "team_id": settings.team_id,
            "from_address": settings.from_address,
            "from_name": settings.from_name,
            "smtp_host": settings.smtp_host,
            "smtp_port": settings.smtp_port,
            "smtp_security": settings.smtp_security,
            "smtp_username": settings.smtp_username,
            "smtp_password_encrypted": settings.smtp_password,
            "webhook_url": settings.webhook_url,
            "webhook_secret_encrypted": settings.webhook_secret,
            "senders_usergroup": settings.senders_usergroup,
            "recent_contact_days": settings.recent_contact_days,
            "digest_time": settings.digest_time,
            "updated_by": settings.updated_by,
            "updated_at": settings.updated_at,
        }
        stmt = insert_for(self._session, _TABLE).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_TABLE.c.team_id], set_={k: v for k, v in values.items() if k != "team_id"}
        )
        self._session.execute(stmt)

    def reencrypt(
        self, rotate: Callable[[str], str], unreadable: tuple[type[Exception], ...]
    ) -> tuple[int, int]:
        """Every stored SMTP password and webhook secret through ``rotate`` (re-encryption under the current key);
        returns (rewritten, left as they were because ``rotate`` raised one of ``unreadable``). For key rotation."""
        rewritten = skipped = 0
        for row in self._session.scalars(select(WorkspaceSettingsRow)):
            for column in ("smtp_password_encrypted", "webhook_secret_encrypted"):
                token = getattr(row, column)
                if not token:
                    continue
                try:
                    setattr(row, column, rotate(token))
                except unreadable:
                    skipped += 1
                    continue
                rewritten += 1
        self._session.flush()
        return rewritten, skipped
