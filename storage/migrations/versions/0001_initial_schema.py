"""Initial schema: partners (with prospect state), ads, attachments, drafts, deliveries, threads, audit.

On PostgreSQL the pg_trgm extension backs a GIN trigram index for substring search of partners.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "ads",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("adid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("ad_type", sa.String(length=16), nullable=False),
        sa.Column("landing_url", sa.String(length=2048), nullable=False),
        sa.Column("creative", sa.String(length=2048), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ads")),
        sa.UniqueConstraint("team_id", "adid", name=op.f("uq_ads_team_id")),
    )
    op.create_table(
        "attachments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("mime_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("scan_status", sa.String(length=16), nullable=False),
        sa.Column("scan_signature", sa.String(length=255), nullable=False),
        sa.Column("scan_detail", sa.String(length=500), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_sha", "attachments", ["team_id", "sha256"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("draft_id", ID, nullable=True),
        sa.Column("mpid", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_draft", "audit_events", ["team_id", "draft_id"], unique=False)
    op.create_index("ix_audit_events_team_at", "audit_events", ["team_id", "at"], unique=False)

    op.create_table(
        "drafts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
    )
    op.create_index("ix_drafts_author", "drafts", ["team_id", "author_id", "status"], unique=False)
    op.create_index("ix_drafts_status", "drafts", ["status", "updated_at"], unique=False)

    op.create_table(
        "message_threads",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("mpid", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_message_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_threads")),
        sa.UniqueConstraint("team_id", "mpid", "channel", name=op.f("uq_message_threads_team_id")),
    )
    op.create_table(
        "partners",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("mpid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("messaging_enabled", sa.Boolean(), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("website", sa.String(length=2048), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sort_name", sa.String(length=300), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("prospect_status", sa.String(length=32), nullable=False),
        sa.Column("marked_at", TS, nullable=True),
        sa.Column("marked_by", sa.String(length=32), nullable=False),
        sa.Column("last_contacted_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("team_id", "mpid", name=op.f("uq_partners_team_id")),
    )
    op.create_index(
        "ix_partners_country", "partners", ["team_id", "country", "sort_name", "mpid"], unique=False
    )
    op.create_index("ix_partners_kind", "partners", ["team_id", "kind", "sort_name", "mpid"], unique=False)
    op.create_index("ix_partners_list", "partners", ["team_id", "sort_name", "mpid"], unique=False)
    op.create_index(
        "ix_partners_messaging",
        "partners",
        ["team_id", "messaging_enabled", "sort_name", "mpid"],
        unique=False,
    )
    op.create_index(
        "ix_partners_not_contacted",
        "partners",
        ["team_id", "sort_name", "mpid"],
        unique=False,
        sqlite_where=sa.text("last_contacted_at IS NULL"),
        postgresql_where=sa.text("last_contacted_at IS NULL"),
    )
    op.create_index(
        "ix_partners_prospects",
        "partners",
        ["team_id", "sort_name", "mpid"],
        unique=False,
        sqlite_where=sa.text("marked_at IS NOT NULL"),
        postgresql_where=sa.text("marked_at IS NOT NULL"),
    )
    if bind.dialect.name == "postgresql":
        op.create_index(
            "ix_partners_search_trgm",
            "partners",
            ["search_text"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )

    op.create_table(
        "deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("draft_id", ID, nullable=False),
        sa.Column("mpid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=255), nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["drafts.id"], name=op.f("fk_deliveries_draft_id_drafts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("draft_id", "mpid", name=op.f("uq_deliveries_draft_id")),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_deliveries_team_mpid", "deliveries", ["team_id", "mpid"], unique=False)

    op.create_table(
        "draft_attachments",
        sa.Column("draft_id", ID, nullable=False),
        sa.Column("attachment_id", ID, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_draft_attachments_attachment_id_attachments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["drafts.id"], name=op.f("fk_draft_attachments_draft_id_drafts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("draft_id", "attachment_id", name=op.f("pk_draft_attachments")),
    )
    op.create_index("ix_draft_attachments_attachment", "draft_attachments", ["attachment_id"], unique=False)

    op.create_table(
        "draft_recipients",
        sa.Column("draft_id", ID, nullable=False),
        sa.Column("mpid", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["drafts.id"], name=op.f("fk_draft_recipients_draft_id_drafts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("draft_id", "mpid", name=op.f("pk_draft_recipients")),
    )
    op.create_table(
        "thread_messages",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("thread_id", ID, nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("author_id", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=255), nullable=False),
        sa.Column("delivery_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_thread_messages_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["message_threads.id"],
            name=op.f("fk_thread_messages_thread_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_messages")),
    )
    op.create_index("ix_thread_messages_thread", "thread_messages", ["thread_id", "created_at"], unique=False)


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index("ix_thread_messages_thread", table_name="thread_messages")

    op.drop_table("thread_messages")
    op.drop_table("draft_recipients")
    op.drop_index("ix_draft_attachments_attachment", table_name="draft_attachments")

    op.drop_table("draft_attachments")
    op.drop_index("ix_deliveries_team_mpid", table_name="deliveries")
    op.drop_index("ix_deliveries_due", table_name="deliveries")

    op.drop_table("deliveries")
    if bind.dialect.name == "postgresql":
        op.drop_index("ix_partners_search_trgm", table_name="partners")
    op.drop_index("ix_partners_prospects", table_name="partners")
    op.drop_index("ix_partners_not_contacted", table_name="partners")
    op.drop_index("ix_partners_messaging", table_name="partners")
    op.drop_index("ix_partners_list", table_name="partners")
    op.drop_index("ix_partners_kind", table_name="partners")
    op.drop_index("ix_partners_country", table_name="partners")

    op.drop_table("partners")
    op.drop_table("message_threads")
    op.drop_index("ix_drafts_status", table_name="drafts")
    op.drop_index("ix_drafts_author", table_name="drafts")

    op.drop_table("drafts")
    op.drop_index("ix_audit_events_team_at", table_name="audit_events")
    op.drop_index("ix_audit_events_draft", table_name="audit_events")

    op.drop_table("audit_events")
    op.drop_index("ix_attachments_sha", table_name="attachments")

    op.drop_table("attachments")
    op.drop_table("ads")
