"""The SQL repositories keep the repository contract (tests/repository_contract.py), on SQLite and PostgreSQL:
the same tests the in-memory fakes pass in tests/unit, so a fake cannot drift from what it stands for."""

from __future__ import annotations

from tests.repository_contract import RepositoryContract


class TestTheSqlRepositories(RepositoryContract):
    """Runs every contract test with the ``uow_factory`` of tests/fixtures/db.py."""
