"""E-mail replies and bounces (issue 12, point 3): the Message-IDs we sent are looked up, bounces are handled
once, users' own mailboxes are read over IMAP.

- ``deliveries.provider_message_id`` gets an index: an inbound reply or bounce finds the e-mail it names.
- ``handled_mail``: inbound mail already acted on, by workspace and Message-ID (or idempotency key).
- ``mail_accounts`` gets the IMAP side of a user's own mailbox (host, port, security). Accounts connected
  before this revision have none (an empty host): their mailbox is not read until the user connects again,
  which tries the IMAP login first.
- ``mailboxes``: where each read mailbox stands (UIDVALIDITY, last UID), who polls it now, whether its login
  was refused.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_provider", ["provider_message_id"], unique=False)
    with op.batch_alter_table("mail_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("imap_host", sa.String(length=255), server_default="", nullable=False))
        batch_op.add_column(sa.Column("imap_port", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("imap_security", sa.String(length=16), server_default="", nullable=False)
        )
    op.create_table(
        "handled_mail",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("mail_id", sa.String(length=255), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "mail_id", name=op.f("pk_handled_mail")),
    )
    op.create_table(
        "mailboxes",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_mailboxes")),
    )


def downgrade() -> None:
    op.drop_table("mailboxes")
    op.drop_table("handled_mail")
    with op.batch_alter_table("mail_accounts", schema=None) as batch_op:
        batch_op.drop_column("imap_security")
        batch_op.drop_column("imap_port")
        batch_op.drop_column("imap_host")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_provider")
