"""Follow-ups and scheduled sends (issue 12, points 4 and 5).

A draft keeps its follow-up steps as written while it is composed (``followups``, JSON); once planned, each
step is a draft of its own under the send's first message (``parent_id``, ``step``, ``delay_days``), sent by the
delivery workers like any send. A SCHEDULED draft goes at ``send_at`` (``local_zone``: that time of day in each
partner's time zone), planned by the workers from ``start_at`` (``ix_drafts_scheduled`` answers "what is due").
Partners get the ``timezone`` import column. Existing rows: no steps, not scheduled, no zone.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("followups", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("local_zone", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("start_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("parent_id", Id, nullable=True))
        batch.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("delay_days", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key(
            op.f("fk_drafts_parent_id_drafts"), "drafts", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_drafts_scheduled", ["status", "start_at"], unique=False)
        batch.create_index("ix_drafts_parent", ["parent_id", "step"], unique=False)
    op.add_column("partners", sa.Column("timezone", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("timezone")
    with op.batch_alter_table("drafts") as batch:
        batch.drop_index("ix_drafts_parent")
        batch.drop_index("ix_drafts_scheduled")
        batch.drop_constraint(op.f("fk_drafts_parent_id_drafts"), type_="foreignkey")
        batch.drop_column("delay_days")
        batch.drop_column("step")
        batch.drop_column("parent_id")
        batch.drop_column("start_at")
        batch.drop_column("local_zone")
        batch.drop_column("send_at")
        batch.drop_column("followups")
