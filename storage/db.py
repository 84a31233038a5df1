"""Engines and session factories from a database URL. Nothing is built at import time.

SQLite (``sqlite:///var/prospects.db``): the file's folder is created, and every connection gets WAL
journaling, foreign keys and a busy timeout so that Bolt's listener threads and the worker can share it.
PostgreSQL: ``postgresql://`` and ``postgresql+psycopg://`` both mean psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 5000
CACHE_KIB = 64 * 1024  # page cache per connection (SQLite's default is 2 MiB)


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` / ``postgres://`` → ``postgresql+psycopg://``; other URLs unchanged."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    # No server-side prepared statements: psycopg would otherwise keep generic plans made while a table
    # was small (a sequential scan for `mpid IN (…)` during a large import stays a sequential scan).
    kwargs["connect_args"] = {"prepare_threshold": None, **kwargs.get("connect_args", {})}
    return create_engine(parsed, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(connection: Any) -> None:
    # The sqlite3 module opens transactions lazily on its own; we turned that off in _sqlite_pragmas and
    # begin them here, so that transactions (and SAVEPOINTs) start where SQLAlchemy says they do.
    # IMMEDIATE: one writer at a time, queued by the busy timeout. A deferred transaction that reads and then
    # writes fails at once with "database is locked" when another writer committed in between (the busy
    # timeout cannot help there), which Bolt's listener threads and the worker would hit.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    finally:
        cursor.close()


def analyze(engine: Engine, *tables: str) -> None:
    """Refresh the planner's statistics after a bulk load (PostgreSQL's autovacuum would, a while later; until
    then a keyset page can be planned as a scan of the whole table). PostgreSQL: VACUUM (ANALYZE), which also
    merges the rows' new entries into the trigram index (until then every search reads them one by one:
    migration 0022). SQLite: ANALYZE."""
    from sqlalchemy import text

    for table in tables:
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in tables:  # VACUUM runs outside a transaction
                connection.execute(text(f"VACUUM (ANALYZE) {table}"))
        return
    with engine.begin() as connection:
        for table in tables:
            connection.execute(text(f"ANALYZE {table}"))
