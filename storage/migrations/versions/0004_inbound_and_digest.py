"""Inbound replies and the digest: thread messages get the sender's id (unique per workspace) and links to
their files (kept or quarantined); one digest claim per (workspace, user, local day).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
NOT_EMPTY = "external_id <> ''"


def upgrade() -> None:
    op.add_column(
        "thread_messages",
        sa.Column("external_id", sa.String(length=255), nullable=False, server_default=""),
    )
    op.create_index(
        "uq_thread_messages_external",
        "thread_messages",
        ["team_id", "external_id"],
        unique=True,
        sqlite_where=sa.text(NOT_EMPTY),
        postgresql_where=sa.text(NOT_EMPTY),
    )
    op.create_index(
        "ix_thread_messages_provider", "thread_messages", ["team_id", "provider_message_id"], unique=False
    )
    op.create_table(
        "thread_message_files",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("attachment_id", ID, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quarantine", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_thread_message_files_attachment_id_attachments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["thread_messages.id"],
            name=op.f("fk_thread_message_files_message_id_thread_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "attachment_id", name=op.f("pk_thread_message_files")),
    )
    op.create_index(
        "ix_thread_message_files_attachment", "thread_message_files", ["attachment_id"], unique=False
    )
    op.create_table(
        "digest_claims",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("claimed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", "day", name=op.f("pk_digest_claims")),
    )


def downgrade() -> None:
    op.drop_table("digest_claims")
    op.drop_index("ix_thread_message_files_attachment", table_name="thread_message_files")
    op.drop_table("thread_message_files")
    op.drop_index("ix_thread_messages_provider", table_name="thread_messages")
    op.drop_index("uq_thread_messages_external", table_name="thread_messages")
    with op.batch_alter_table("thread_messages") as batch:
        batch.drop_column("external_id")
