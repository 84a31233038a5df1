"""Reserved for 12C — follow-ups and scheduled sends (issue 12, points 4 and 5): filled in by that work; empty until then, so that the revision chain is whole on
every branch.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
