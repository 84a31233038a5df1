"""Fakes for the core's ports, for unit tests that run in milliseconds (tests/unit).

- ``FakeStore`` / ``FakeUnitOfWork``: in-memory repositories for what ComposeService and DeliveryWorker use,
  transactional like the SQL unit of work; tests/repository_contract.py holds them to the SQL repositories'
  behaviour (run on the fakes in tests/unit, on SQLite and PostgreSQL in tests/integration).
- ``FakeMailer`` / ``FakeMailSession`` / ``FakeTransport``: senders that keep what they send and refuse on cue.
- ``Ticker``: a monotonic clock that moves when told; the wall clock is ``outreach.clock.FixedClock``.
- ``FakeScanner`` / ``FakeSniffer`` live with the sample files they judge, in tests/attachment_samples.py.
"""

from tests.attachment_samples import FakeScanner, FakeSniffer
from tests.fakes.clocks import Ticker
from tests.fakes.senders import FakeMailer, FakeMailSession, FakeTransport
from tests.fakes.store import ConcurrentCommit, FakeStore, FakeUnitOfWork

__all__ = [
    "ConcurrentCommit",
    "FakeMailSession",
    "FakeMailer",
    "FakeScanner",
    "FakeSniffer",
    "FakeStore",
    "FakeTransport",
    "FakeUnitOfWork",
    "Ticker",
]
