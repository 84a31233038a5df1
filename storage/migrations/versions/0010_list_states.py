"""List states: what each render of /prospects or the marketplace showed (search, filters, page), keyed by an id
its block ids carry, because Slack sends no ``message`` with actions on ephemeral messages.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "list_states",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_list_states")),
    )
    op.create_index("ix_list_states_created", "list_states", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_list_states_created", table_name="list_states")
    op.drop_table("list_states")
