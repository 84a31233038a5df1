"""tests/unit needs no database, clamd or SMTP server, so that ``make unit`` runs in seconds: a unit test that asks
for a fixture of tests/fixtures (a database, clamd, an SMTP server) stops the run at collection, and one that opens
a network connection fails. Such a test belongs in tests/integration."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


def service_fixtures(item: pytest.Item) -> list[str]:
    """The fixtures of tests/fixtures that ``item`` uses (a fixture overridden closer to the test does not count)."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.items() if info is not None else ()
    return sorted(
        name for name, defs in definitions if defs and defs[-1].func.__module__.startswith("tests.fixtures.")
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE) and (services := service_fixtures(item)):
            raise pytest.UsageError(
                f"{item.nodeid} uses {', '.join(services)}: a test that needs a service belongs in tests/integration"
            )


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: Any) -> None:
        raise RuntimeError(f"a unit test connected to {address!r}: it belongs in tests/integration")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
