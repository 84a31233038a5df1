"""Shared templates (``templates``, ``template_attachments``): rows <-> :class:`outreach.models.Template`.

A name already taken in the workspace is caught by the unique index on ``(team_id, name_key)`` inside a
savepoint, so the caller's transaction goes on and learns it as ``None`` (two people saving the same name at once:
one wins, the other is told). Lists and the menu read names only, never the files' bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, delete, func, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outreach.models import Channel, Template, TemplateSummary
from storage.draft_repository import to_attachment
from storage.models import AttachmentRow, TemplateAttachmentRow, TemplateRow


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


class SqlTemplateRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, template: Template) -> Template | None:
        row = TemplateRow(team_id=template.team_id, author_id=template.author_id)
        self._fill(row, template)
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError:
            return None
        self._link(row, template)
        return self._to_template(row)

    def save(self, template: Template) -> Template | None:
        assert template.id is not None
        row = self._row(template.team_id, template.id)
        if row is None:
            return None
        try:
            with self._session.begin_nested():
                self._fill(row, template)
                self._session.flush()
        except IntegrityError:
            self._session.expire(row)
            return None
        self._session.execute(
            delete(TemplateAttachmentRow).where(TemplateAttachmentRow.template_id == row.id)
        )
        self._link(row, template)
        return self._to_template(row)

    def get(self, team_id: str, template_id: int) -> Template | None:
        row = self._row(team_id, template_id)
        return None if row is None else self._to_template(row)

    def named(self, team_id: str, key: str) -> TemplateSummary | None:
        stmt = self._summaries().where(TemplateRow.team_id == team_id, TemplateRow.name_key == key)
        found = self._session.execute(stmt).first()
        return None if found is None else _summary(found)

    def search(self, team_id: str, key: str, channel: Channel | None, limit: int) -> list[TemplateSummary]:
        stmt = self._summaries().where(TemplateRow.team_id == team_id)
        if key:
            stmt = stmt.where(TemplateRow.name_key.contains(key, autoescape=True))
        if channel is not None:
            stmt = stmt.where(TemplateRow.channel == channel.value)
        stmt = stmt.order_by(TemplateRow.name_key, TemplateRow.id).limit(limit)
        return [_summary(r) for r in self._session.execute(stmt)]

    def count(self, team_id: str) -> int:
        stmt = select(func.count()).select_from(TemplateRow).where(TemplateRow.team_id == team_id)
        return int(self._session.execute(stmt).scalar_one())

    def page(self, team_id: str, offset: int, limit: int) -> list[TemplateSummary]:
        stmt = (
            self._summaries()
            .where(TemplateRow.team_id == team_id)
            .order_by(TemplateRow.name_key, TemplateRow.id)
            .offset(offset)
            .limit(limit)
        )
        return [_summary(r) for r in self._session.execute(stmt)]

    def delete(self, team_id: str, template_id: int) -> bool:
        """The template and its links to its files (the files stay: drafts made from it may still hold them)."""
        result = self._session.execute(
            delete(TemplateRow).where(TemplateRow.team_id == team_id, TemplateRow.id == template_id)
        )  # its template_attachments go with it (ON DELETE CASCADE; SQLite's foreign keys are on, storage/db.py)
        return bool(getattr(result, "rowcount", 0))

    # -- helpers ------------------------------------------------------------------------------------------
    def _row(self, team_id: str, template_id: int) -> TemplateRow | None:
        return self._session.scalars(
            select(TemplateRow).where(TemplateRow.team_id == team_id, TemplateRow.id == template_id)
        ).first()

    @staticmethod
    def _fill(row: TemplateRow, template: Template) -> None:
        row.name = template.name
        row.name_key = _key(template.name)
        row.channel = template.channel.value
        row.subject = template.subject
        row.content = template.content
        assert template.created_at is not None and template.updated_at is not None
        row.created_at = row.created_at or template.created_at
        row.updated_at = template.updated_at

    def _link(self, row: TemplateRow, template: Template) -> None:
        for position, attachment in enumerate(template.attachments):
            if attachment.id is None:
                raise ValueError(f"attachment {attachment.filename!r} must be stored before it is linked")
            self._session.add(
                TemplateAttachmentRow(
                    template_id=row.id, attachment_id=attachment.id, team_id=row.team_id, position=position
                )
            )
        self._session.flush()

    @staticmethod
    def _summaries() -> Select[tuple[int, str, str, str, str, int]]:
        files = (
            select(func.count())
            .where(TemplateAttachmentRow.template_id == TemplateRow.id)
            .correlate(TemplateRow)
            .scalar_subquery()
        )
        return select(
            TemplateRow.id,
            TemplateRow.name,
            TemplateRow.channel,
            TemplateRow.author_id,
            TemplateRow.subject,
            files.label("files"),
        )

    def _to_template(self, row: TemplateRow) -> Template:
        attachments: Sequence[AttachmentRow] = self._session.scalars(
            select(AttachmentRow)
            .join(TemplateAttachmentRow, TemplateAttachmentRow.attachment_id == AttachmentRow.id)
            .where(TemplateAttachmentRow.template_id == row.id, AttachmentRow.team_id == row.team_id)
            .order_by(TemplateAttachmentRow.position)
        ).all()
        return Template(
            team_id=row.team_id,
            author_id=row.author_id,
            name=row.name,
            channel=Channel(row.channel),
            subject=row.subject,
            content=row.content,
            attachments=tuple(to_attachment(a) for a in attachments),
            id=row.id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _summary(row: Row[tuple[int, str, str, str, str, int]]) -> TemplateSummary:
    r = row._mapping
    return TemplateSummary(
        int(r["id"]), r["name"], Channel(r["channel"]), r["author_id"], r["subject"], int(r["files"] or 0)
    )
