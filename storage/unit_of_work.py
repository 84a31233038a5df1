"""``SqlUnitOfWork``: one session, one transaction; rolled back on exit unless ``commit()`` was called."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from outreach.clock import SystemClock
from outreach.ports import Clock
from storage.account_repository import SqlMailAccountRepository
from storage.conversations import SqlConversationNotices, SqlConversationOutbox, SqlConversationReplies
from storage.delivery_queue import SqlDeliveryQueue
from storage.list_state_repository import SqlListStates
from storage.mail_inbound_repository import SqlInboundMail, SqlMailboxes
from storage.pick_repository import SqlPickRepository
from storage.repositories import (
    SqlAdRepository,
    SqlAttachmentRepository,
    SqlAuditLog,
    SqlDeliveryRepository,
    SqlDigestRepository,
    SqlDraftRepository,
    SqlPartnerRepository,
    SqlProspectRepository,
    SqlThreadRepository,
)
from storage.seen_events import SqlSeenEvents
from storage.send_budgets import SqlSendBudgets
from storage.send_notices import SqlSendNotices
from storage.stats_repository import SqlOutreachStats
from storage.suppression_repository import SqlAppKeys, SqlSuppressionRepository
from storage.template_repository import SqlTemplateRepository
from storage.workspace_repository import SqlWorkspaces
from storage.workspace_settings_repository import SqlWorkspaceSettings


class SqlUnitOfWork:
    """``with SqlUnitOfWork(factory) as uow: uow.partners.upsert_many(...); uow.commit()``.

    Work after the last ``commit()`` is rolled back when the block ends (also on an exception).
    One unit of work per use case and thread: sessions are not shared.
    """

    partners: SqlPartnerRepository
    prospects: SqlProspectRepository
    ads: SqlAdRepository
    drafts: SqlDraftRepository
    attachments: SqlAttachmentRepository
    deliveries: SqlDeliveryRepository
    threads: SqlThreadRepository
    audit: SqlAuditLog
    picks: SqlPickRepository
    list_states: SqlListStates
    queue: SqlDeliveryQueue
    digests: SqlDigestRepository
    suppressions: SqlSuppressionRepository
    keys: SqlAppKeys
    accounts: SqlMailAccountRepository
    seen_events: SqlSeenEvents
    send_notices: SqlSendNotices
    send_budgets: SqlSendBudgets
    conversation_notices: SqlConversationNotices
    conversation_events: SqlConversationOutbox
    conversation_replies: SqlConversationReplies
    inbound_mail: SqlInboundMail
    mailboxes: SqlMailboxes
    workspaces: SqlWorkspaces
    templates: SqlTemplateRepository
    stats: SqlOutreachStats
    workspace_settings: SqlWorkspaceSettings

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock | None = None) -> None:
        self._factory = session_factory
        self._clock: Clock = clock or SystemClock()
        self._session: Session | None = None

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already in use; make a new one per use case")
        session = self._session = self._factory()
        clock = self._clock
        self.partners = SqlPartnerRepository(session, clock)
        self.prospects = SqlProspectRepository(session, clock)
        self.ads = SqlAdRepository(session, clock)
        self.drafts = SqlDraftRepository(session, clock)
        self.attachments = SqlAttachmentRepository(session, clock)
        self.deliveries = SqlDeliveryRepository(session, clock)
        self.threads = SqlThreadRepository(session, clock)
        self.audit = SqlAuditLog(session)
        self.picks = SqlPickRepository(session, clock)
        self.list_states = SqlListStates(session)
        self.queue = SqlDeliveryQueue(session, clock)
        self.digests = SqlDigestRepository(session)
        self.suppressions = SqlSuppressionRepository(session, clock)
        self.keys = SqlAppKeys(session, clock)
        self.accounts = SqlMailAccountRepository(session, clock)
        self.seen_events = SqlSeenEvents(session)
        self.send_notices = SqlSendNotices(session)
        self.send_budgets = SqlSendBudgets(session)
        self.conversation_notices = SqlConversationNotices(session)
        self.conversation_events = SqlConversationOutbox(session)
        self.conversation_replies = SqlConversationReplies(session)
        self.inbound_mail = SqlInboundMail(session)
        self.mailboxes = SqlMailboxes(session)
        self.workspaces = SqlWorkspaces(session)
        self.templates = SqlTemplateRepository(session)
        self.stats = SqlOutreachStats(session)
        self.workspace_settings = SqlWorkspaceSettings(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._require()
        try:
            session.rollback()
        finally:
            session.close()
            self._session = None

    def commit(self) -> None:
        self._require().commit()

    def rollback(self) -> None:
        self._require().rollback()

    def _require(self) -> Session:
        if self._session is None:
            raise RuntimeError("use the unit of work in a `with` block")
        return self._session


def make_uow_factory(session_factory: sessionmaker[Session], clock: Clock | None = None) -> UowFactory:
    """A zero-argument callable that makes a fresh unit of work (what the core's use cases take)."""
    return UowFactory(session_factory, clock)


class UowFactory:
    def __init__(self, session_factory: sessionmaker[Session], clock: Clock | None = None) -> None:
        self._session_factory = session_factory
        self._clock = clock

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._session_factory, self._clock)
