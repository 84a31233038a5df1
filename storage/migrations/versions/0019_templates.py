"""Shared templates (issue 15, point 2): ``templates`` (one per name per workspace, the name case-folded in
``name_key`` under a unique index) and ``template_attachments`` (their files: links to stored, already checked
rows of ``attachments``, as ``draft_attachments`` links a draft's).

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint("team_id", "name_key", name="uq_templates_name"),
    )
    op.create_table(
        "template_attachments",
        sa.Column("template_id", ID, nullable=False),
        sa.Column("attachment_id", ID, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name=op.f("fk_template_attachments_template_id_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_template_attachments_attachment_id_attachments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("template_id", "attachment_id", name=op.f("pk_template_attachments")),
    )
    op.create_index(
        "ix_template_attachments_attachment", "template_attachments", ["attachment_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_template_attachments_attachment", table_name="template_attachments")
    op.drop_table("template_attachments")
    op.drop_table("templates")
