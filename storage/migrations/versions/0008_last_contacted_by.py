"""Who contacted a partner last (with when): a draft's "contacted by a teammate" warning is then read in the
same pass as its recipients, not worked out from every earlier delivery.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "partners", sa.Column("last_contacted_by", sa.String(length=32), nullable=False, server_default="")
    )
    # Existing contacts: the author of the latest sent delivery to each partner.
    op.execute(
        """
        UPDATE partners SET last_contacted_by = COALESCE((
            SELECT drafts.author_id FROM deliveries JOIN drafts ON drafts.id = deliveries.draft_id
            WHERE deliveries.team_id = partners.team_id AND deliveries.mpid = partners.mpid
              AND deliveries.status = 'sent'
            ORDER BY deliveries.sent_at DESC, deliveries.id DESC LIMIT 1
        ), '')
        WHERE last_contacted_at IS NOT NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("last_contacted_by")
