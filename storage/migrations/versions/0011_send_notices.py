"""Send notices: the author's DM about a send (its channel and ts) kept with the send, so that every worker
process updates the same DM and the summary is shown once.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_notices",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("draft_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "draft_id", name=op.f("pk_send_notices")),
    )
    # The notices still showing progress (finished_at IS NULL) are the few a process looks for.
    op.create_index("ix_send_notices_open", "send_notices", ["finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_send_notices_open", table_name="send_notices")
    op.drop_table("send_notices")
