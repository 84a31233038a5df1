"""A send's counts by status, and whether anything of it is left, from an index (a worker asks after every
batch; a 100,000-recipient send would otherwise count its rows a thousand times).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deliveries_draft_status", "deliveries", ["draft_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_draft_status", table_name="deliveries")
