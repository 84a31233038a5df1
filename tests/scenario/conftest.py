"""The scenario tests' common setup: the real app's settings on this test's database, SMTP server and clamd."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.settings import Settings


@pytest.fixture
def scenario_settings(database_url, db_engine, smtp_server, clamd) -> Callable[..., Settings]:
    """``scenario_settings(**overrides)``: Settings for full_app(); the tables are emptied after the test."""

    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "database_url": database_url,
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "mail_from": "Outreach <outreach@brand.example>",
            "clamd_socket": clamd.socket_path,
        }
        return Settings(**{**base, **overrides})

    return make
