"""Dialect-aware ``INSERT … ON CONFLICT`` for SQLite and PostgreSQL, and batching."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

T = TypeVar("T")

# Rows per statement: well under SQLite's 32,766 bound parameters and fast on both databases.
BATCH = 500


def insert_for(session: Session, table: Table) -> Any:
    """``insert(table)`` of the session's dialect, which has ``on_conflict_do_update/nothing``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts are not implemented for {name}")


def chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
