"""The in-memory repositories keep the repository contract (tests/repository_contract.py) that the SQL ones keep
on SQLite and PostgreSQL (tests/integration/test_sql_repositories.py)."""

from __future__ import annotations

import pytest

from tests.fakes import FakeStore
from tests.repository_contract import RepositoryContract


class TestTheFakeRepositories(RepositoryContract):
    @pytest.fixture
    def uow_factory(self) -> FakeStore:
        return FakeStore()
