"""``FakeStore``: the committed state of the in-memory repositories; calling it makes a ``FakeUnitOfWork``, so a
store is what a use case takes as its ``uow`` factory (as cosmicpython's FakeUnitOfWork, but transactional).

A unit of work works on a copy of the store taken when it opens and hands it back on ``commit()``; leaving it
without a commit changes nothing, as with SQL. The fake is single-threaded and takes no locks: a commit over
another unit of work's commit made since this one opened raises ``ConcurrentCommit`` rather than lose either.
"""

from __future__ import annotations

import itertools
from types import TracebackType
from typing import Self

from outreach.clock import SystemClock
from outreach.ports import Clock
from tests.fakes.deliveries import FakeDeliveryQueue, FakeDeliveryRepository
from tests.fakes.drafts import FakeAttachmentRepository, FakeDraftRepository
from tests.fakes.partners import (
    FakeAdRepository,
    FakePartnerRepository,
    FakeProspectRepository,
    FakeSendBudgets,
    FakeSuppressionRepository,
)
from tests.fakes.tables import Tables, Transaction
from tests.fakes.threads import FakeAuditLog, FakeConversationReplies, FakeThreadRepository


class ConcurrentCommit(RuntimeError):
    """Two open units of work both committed: the fake cannot merge them (open one at a time)."""


class FakeStore:
    """``store = FakeStore(clock)``; ``ComposeService(uow=store, ...)``; ``with store() as uow: ...``.

    ``clock`` stamps rows (created_at, updated_at) as the SQL repositories do; ``commits`` counts commits.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.tables = Tables()
        self.commits = 0
        self._ids = itertools.count(1)

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def next_id(self) -> int:
        return next(self._ids)


class FakeUnitOfWork:
    """The repositories compose and delivery use (outreach/compose.py, outreach/delivery.py); the others
    (picks, list states, digests, accounts, notices, conversation notices and events …) are not faked: their use
    cases are tested on SQL."""

    partners: FakePartnerRepository
    prospects: FakeProspectRepository
    ads: FakeAdRepository
    drafts: FakeDraftRepository
    attachments: FakeAttachmentRepository
    deliveries: FakeDeliveryRepository
    queue: FakeDeliveryQueue
    threads: FakeThreadRepository
    audit: FakeAuditLog
    suppressions: FakeSuppressionRepository
    send_budgets: FakeSendBudgets
    conversation_replies: FakeConversationReplies

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._tx: Transaction | None = None
        self._seen = -1  # the store's commit count when this unit of work last read it

    def __enter__(self) -> Self:
        if self._tx is not None:
            raise RuntimeError("this unit of work is already in use; make a new one per use case")
        store = self._store
        tx = self._tx = Transaction(store.tables.copy(), store.clock, store.next_id)
        self._seen = store.commits
        self.partners = FakePartnerRepository(tx)
        self.prospects = FakeProspectRepository(tx)
        self.ads = FakeAdRepository(tx)
        self.drafts = FakeDraftRepository(tx)
        self.attachments = FakeAttachmentRepository(tx)
        self.deliveries = FakeDeliveryRepository(tx)
        self.queue = FakeDeliveryQueue(tx)
        self.threads = FakeThreadRepository(tx)
        self.audit = FakeAuditLog(tx)
        self.suppressions = FakeSuppressionRepository(tx)
        self.send_budgets = FakeSendBudgets(tx)
        self.conversation_replies = FakeConversationReplies(tx)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._require().close()  # uncommitted work is dropped with the copy
        self._tx = None

    def commit(self) -> None:
        tx, store = self._require(), self._store
        if store.commits != self._seen:
            raise ConcurrentCommit("another unit of work committed while this one was open")
        store.tables = tx.tables.copy()
        store.commits += 1
        self._seen = store.commits

    def rollback(self) -> None:
        self._require().tables.load(self._store.tables)
        self._seen = self._store.commits

    def _require(self) -> Transaction:
        if self._tx is None:
            raise RuntimeError("use the unit of work in a `with` block")
        return self._tx
