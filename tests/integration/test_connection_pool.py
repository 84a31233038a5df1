"""On PostgreSQL the database pool keeps a connection for each listener thread (bot.wiring.pool_size): clicks
served at once reuse connections instead of opening new ones beyond SQLAlchemy's default five at every burst (a
new backend process each). SQLite keeps SQLAlchemy's default (each of its connections has a page cache of its
own)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from bot.settings import Settings
from bot.wiring import build_services, pool_size

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_connections_for_every_listener_thread_are_kept_between_bursts(database_url):
    settings = Settings(database_url=database_url, listener_threads=8)
    at_once = settings.listener_threads  # every listener thread in a unit of work at the same moment
    opened: list[int] = []
    clickers: set[int] = set()  # the bursts' threads (what other engines open meanwhile is not counted)

    def burst() -> None:
        together = threading.Barrier(at_once, timeout=10)
        failed: list[BaseException] = []

        def click() -> None:
            clickers.add(threading.get_ident())
            try:
                with services.uow() as uow:
                    uow.picks.count("T1", "U1")
                    together.wait()  # every connection checked out at once
            except BaseException as exc:  # reported below
                failed.append(exc)

        threads = [threading.Thread(target=click) for _ in range(at_once)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert not failed, failed

    def count(dbapi_connection: object, record: object) -> None:
        if threading.get_ident() in clickers:
            opened.append(id(dbapi_connection))

    services = build_services(settings, migrate=False)
    event.listen(Pool, "connect", count)
    try:
        burst()  # opens what the pool lacks
        first = len(opened)
        burst()
        burst()
    finally:
        event.remove(Pool, "connect", count)
        services.close()
    assert first <= at_once <= (pool_size(settings) or 0)
    assert len(opened) == first  # the next bursts found every connection they needed kept open


def test_sqlite_keeps_sqlalchemys_default_pool():
    assert pool_size(Settings(database_url="sqlite:////tmp/prospects.db", listener_threads=8)) is None
