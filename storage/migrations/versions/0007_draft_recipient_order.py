"""A draft's recipients in its order without a sort (they are streamed, up to 100,000 a draft).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_draft_recipients_order", "draft_recipients", ["draft_id", "position"])


def downgrade() -> None:
    op.drop_index("ix_draft_recipients_order", table_name="draft_recipients")
