"""The dashboard's counts (issue 15, point 3): ``ix_deliveries_team_sent`` on ``deliveries (team_id, sent_at)``,
so the last 30 days of a workspace's sends are read from the index, not from every delivery it ever made; and
``ix_deliveries_team_mpid_sent`` on ``(team_id, mpid, sent_at)`` in place of ``ix_deliveries_team_mpid`` (its
prefix, so every query that used it uses the new one), so that the last delivery sent to a partner before a reply
is one index seek, not a sort of all of that partner's deliveries.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deliveries_team_sent", "deliveries", ["team_id", "sent_at"])
    op.create_index("ix_deliveries_team_mpid_sent", "deliveries", ["team_id", "mpid", "sent_at"])
    op.drop_index("ix_deliveries_team_mpid", table_name="deliveries")


def downgrade() -> None:
    op.create_index("ix_deliveries_team_mpid", "deliveries", ["team_id", "mpid"])
    op.drop_index("ix_deliveries_team_mpid_sent", table_name="deliveries")
    op.drop_index("ix_deliveries_team_sent", table_name="deliveries")
