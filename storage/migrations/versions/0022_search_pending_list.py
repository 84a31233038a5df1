"""The trigram index of partners' search text keeps a short pending list (PostgreSQL only).

GIN indexes take new entries into an unsorted "pending list" (``fastupdate``) that every search reads in full
until it is merged, at ``gin_pending_list_limit`` (4 MB by default) or by VACUUM. Every partner updated — an
import, a send marking its recipients contacted — adds its trigrams there; at 100,000 partners a pending list of
about 2 MB cost each searched list click about 3 ms more (bench/list_load.py, EXPLAIN ANALYZE: 5.4 ms against 2.6
ms once merged). 512 kB keeps the merges batched and the list each search reads short; `prospects-bot import`
merges it after a load (storage.db.analyze).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_partners_search_trgm SET (gin_pending_list_limit = 512)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_partners_search_trgm RESET (gin_pending_list_limit)")
