"""SQLite: an FTS5 trigram index over partners.search_text, kept by triggers (PostgreSQL uses pg_trgm).

The virtual table ``partners_search`` is an external-content index of ``partners`` (rowid = partners.id);
the repository asks it first for rare search terms and walks the sorted index for common ones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    "CREATE VIRTUAL TABLE partners_search USING fts5("
    "search_text, content='partners', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER partners_search_insert AFTER INSERT ON partners BEGIN "
    "INSERT INTO partners_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER partners_search_delete AFTER DELETE ON partners BEGIN "
    "INSERT INTO partners_search(partners_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "END",
    "CREATE TRIGGER partners_search_update AFTER UPDATE OF search_text ON partners BEGIN "
    "INSERT INTO partners_search(partners_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO partners_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO partners_search(partners_search) VALUES ('rebuild')",
]
DOWNGRADE = [
    "DROP TRIGGER IF EXISTS partners_search_update",
    "DROP TRIGGER IF EXISTS partners_search_delete",
    "DROP TRIGGER IF EXISTS partners_search_insert",
    "DROP TABLE IF EXISTS partners_search",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in DOWNGRADE:
            op.execute(statement)
