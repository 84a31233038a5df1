"""SQLAlchemy 2.0 rows. The schema changes only through the migrations in ``storage/migrations``.

Every table carries ``team_id`` (the Slack workspace). A prospect is a partner row whose ``marked_at`` is set:
keeping the prospect state on the partner row lets one table (and its indexes) answer every list, filter and
search without a join. ``sort_name`` and ``search_text`` are derived columns written by the repository
(casefolded), so sorting and substring search need no function in the query.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _team() -> Mapped[str]:
    return mapped_column(String(32), nullable=False)


class PartnerRow(Base):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    mpid: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    first_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    last_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    email: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="partner")
    messaging_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    country: Mapped[str] = mapped_column(String(8), nullable=False, default="")
    website: Mapped[str] = mapped_column(String(2048), nullable=False, default="")
    categories: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    sort_name: Mapped[str] = mapped_column(String(300), nullable=False)
    search_text: Mapped[str] = mapped_column(Text, nullable=False)
    # Prospect state (a partner is a prospect when marked_at is set).
    prospect_status: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    marked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    marked_by: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    last_contacted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_contacted_by: Mapped[str] = mapped_column(String(32), nullable=False, default="", server_default="")
    # IANA time zone from the import (migration 0016): "at HH:MM in each partner's time zone".
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("team_id", "mpid"),
        Index("ix_partners_list", "team_id", "sort_name", "mpid"),
        Index(
            "ix_partners_prospects",
            "team_id",
            "sort_name",
            "mpid",
            sqlite_where=text("marked_at IS NOT NULL"),
            postgresql_where=text("marked_at IS NOT NULL"),
        ),
        Index("ix_partners_country", "team_id", "country", "sort_name", "mpid"),
        Index("ix_partners_kind", "team_id", "kind", "sort_name", "mpid"),
        Index("ix_partners_messaging", "team_id", "messaging_enabled", "sort_name", "mpid"),
        Index(
            "ix_partners_not_contacted",
            "team_id",
            "sort_name",
            "mpid",
            sqlite_where=text("last_contacted_at IS NULL"),
            postgresql_where=text("last_contacted_at IS NULL"),
        ),
        # PostgreSQL only (created by the migration): GIN trigram index for substring search.
        Index(
            "ix_partners_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            postgresql_with={"gin_pending_list_limit": 512},  # kB: migration 0022
        ).ddl_if(dialect="postgresql"),
    )


class AdRow(Base):
    __tablename__ = "ads"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    adid: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    ad_type: Mapped[str] = mapped_column(String(16), nullable=False)
    landing_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    creative: Mapped[str] = mapped_column(String(2048), nullable=False, default="")
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("team_id", "adid"),)


class AttachmentRow(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    mime_type: Mapped[str] = mapped_column(String(127), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    scan_status: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    scan_signature: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    scan_detail: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_attachments_sha", "team_id", "sha256"),)


class DraftRow(Base):
    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    author_id: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    sender_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    reply_to: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    subject: Mapped[str] = mapped_column(String(998), nullable=False, default="")
    content: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    # Follow-ups and send later (migration 0016). While composed, the steps are kept as written
    # ([{"days", "subject", "content"}]); once planned each step is a draft of its own: ``parent_id`` (the send's
    # first message), ``step`` (1, 2, 3), ``delay_days``. A SCHEDULED draft goes at ``send_at`` (with
    # ``local_zone``: that time of day in each partner's zone); the workers plan it from ``start_at``.
    followups: Mapped[list[dict[str, object]]] = mapped_column(
        JSON, nullable=False, default=list, server_default="[]"
    )
    send_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    local_zone: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default="")
    start_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    parent_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("drafts.id", ondelete="CASCADE"), nullable=True
    )
    step: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    delay_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    __table_args__ = (
        Index("ix_drafts_author", "team_id", "author_id", "status"),
        Index("ix_drafts_status", "status", "updated_at"),
        Index("ix_drafts_scheduled", "status", "start_at"),
        Index("ix_drafts_parent", "parent_id", "step"),
    )


class DraftRecipientRow(Base):
    __tablename__ = "draft_recipients"

    draft_id: Mapped[int] = mapped_column(Id, ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True)
    mpid: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = _team()
    position: Mapped[int] = mapped_column(Integer, nullable=False)

    # A draft's recipients are read in its order, a stream of up to 100,000 rows: no sort per read.
    __table_args__ = (Index("ix_draft_recipients_order", "draft_id", "position"),)


class DraftAttachmentRow(Base):
    __tablename__ = "draft_attachments"

    draft_id: Mapped[int] = mapped_column(Id, ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True)
    attachment_id: Mapped[int] = mapped_column(
        Id, ForeignKey("attachments.id", ondelete="RESTRICT"), primary_key=True
    )
    team_id: Mapped[str] = _team()
    position: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_draft_attachments_attachment", "attachment_id"),)


class DeliveryRow(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    draft_id: Mapped[int] = mapped_column(Id, nullable=False)
    mpid: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    provider_message_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    claimed_by: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        # One recipient can never get the same draft twice.
        UniqueConstraint("draft_id", "mpid"),
        ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        # A partner's deliveries, newest sent last: "the last one sent before this reply" is one index seek
        # (migration 0021; it replaced ix_deliveries_team_mpid, its prefix).
        Index("ix_deliveries_team_mpid_sent", "team_id", "mpid", "sent_at"),
        # A send's counts and "anything left?" read the index alone, not 100,000 rows.
        Index("ix_deliveries_draft_status", "draft_id", "status"),
        # An inbound reply or bounce finds the e-mail it names by its Message-ID (migration 0015).
        Index("ix_deliveries_provider", "provider_message_id"),
        # The dashboard reads a window of a workspace's sends (migration 0021).
        Index("ix_deliveries_team_sent", "team_id", "sent_at"),
    )


class ThreadRow(Base):
    __tablename__ = "message_threads"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    mpid: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(998), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("team_id", "mpid", "channel"),)


class ThreadMessageRow(Base):
    __tablename__ = "thread_messages"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    thread_id: Mapped[int] = mapped_column(
        Id, ForeignKey("message_threads.id", ondelete="CASCADE"), nullable=False
    )
    direction: Mapped[str] = mapped_column(String(3), nullable=False)
    author_id: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    body: Mapped[str] = mapped_column(Text, nullable=False)
    provider_message_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    delivery_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    # The sender's id of an inbound message: the same inbound delivered twice is stored once (migration 0004).
    external_id: Mapped[str] = mapped_column(String(255), nullable=False, default="", server_default="")

    __table_args__ = (
        Index("ix_thread_messages_thread", "thread_id", "created_at"),
        Index(
            "uq_thread_messages_external",
            "team_id",
            "external_id",
            unique=True,
            sqlite_where=text("external_id <> ''"),
            postgresql_where=text("external_id <> ''"),
        ),
        Index("ix_thread_messages_provider", "team_id", "provider_message_id"),
    )


class ThreadMessageFileRow(Base):
    """A file of an inbound message; ``quarantine`` (a problem code) is empty for a kept file."""

    __tablename__ = "thread_message_files"

    message_id: Mapped[int] = mapped_column(
        Id, ForeignKey("thread_messages.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[int] = mapped_column(
        Id, ForeignKey("attachments.id", ondelete="RESTRICT"), primary_key=True
    )
    team_id: Mapped[str] = _team()
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    quarantine: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    reason: Mapped[str] = mapped_column(String(500), nullable=False, default="")

    __table_args__ = (Index("ix_thread_message_files_attachment", "attachment_id"),)


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    actor_id: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    draft_id: Mapped[int | None] = mapped_column(Id, nullable=True)
    mpid: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        Index("ix_audit_events_team_at", "team_id", "at"),
        Index("ix_audit_events_draft", "team_id", "draft_id"),
    )


class PickRow(Base):
    """A prospect a user has ticked in /prospects (kept server-side so ticks survive paging and searching)."""

    __tablename__ = "picks"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    mpid: Mapped[str] = mapped_column(String(64), primary_key=True)
    picked_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class DigestClaimRow(Base):
    """One digest per user per local day: the key makes a second claim (another scheduler) a no-op."""

    __tablename__ = "digest_claims"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class SuppressionRow(Base):
    """An address of a workspace that is never e-mailed again: it unsubscribed or bounced permanently."""

    __tablename__ = "suppressions"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower-cased
    reason: Mapped[str] = mapped_column(String(16), nullable=False)  # unsubscribed | bounced
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class AppKeyRow(Base):
    """Keys the app made for itself (e.g. signing unsubscribe links when SECRET_KEY is not set)."""

    __tablename__ = "app_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class MailAccountRow(Base):
    """A user's own SMTP account: their e-mails go out through it, with their address in From."""

    __tablename__ = "mail_accounts"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    port: Mapped[int] = mapped_column(Integer, nullable=False)
    security: Mapped[str] = mapped_column(String(16), nullable=False)
    username: Mapped[str] = mapped_column(String(320), nullable=False)
    password_encrypted: Mapped[str] = mapped_column(Text, nullable=False)  # Fernet token, never the password
    from_address: Mapped[str] = mapped_column(String(320), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    # The mailbox read for replies and bounces (IMAP, same login); an empty host: not read (migration 0015).
    imap_host: Mapped[str] = mapped_column(String(255), nullable=False, default="", server_default="")
    imap_port: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    imap_security: Mapped[str] = mapped_column(String(16), nullable=False, default="", server_default="")


class ListStateRow(Base):
    """What one render of a list (``/prospects``, the marketplace) showed: its search, filters and page.

    Slack sends no ``message`` with an action on an ephemeral message (SLACK.md §8.1), so a tick or a filter
    change cannot read the list's state back from the blocks: every render stores its state under a fresh key
    that its block ids carry. Rows older than a day are purged (a response_url lives 30 minutes).
    """

    __tablename__ = "list_states"
    __table_args__ = (Index("ix_list_states_created", "created_at"),)

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class SendNoticeRow(Base):
    """The author's DM about one send (progress, then the summary): one per send, whatever process posts or
    updates it. ``claimed_at`` is set while a process writes it (the first post, an update, the summary: one at
    a time), ``claimed_by`` names that process (or the last one that did); ``updated_at`` is its last write,
    ``finished_at`` the summary (storage/send_notices.py)."""

    __tablename__ = "send_notices"
    __table_args__ = (Index("ix_send_notices_open", "finished_at"),)

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    draft_id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SlackEventRow(Base):
    """An Events API event already handled: a redelivery of the same ``event_id`` is acknowledged, not served
    again (Slack re-sends an event it believes was not acknowledged, SLACK.md §8.7)."""

    __tablename__ = "slack_events"
    __table_args__ = (Index("ix_slack_events_seen", "seen_at"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class SendBudgetRow(Base):
    """A sending account's next free send time (µs since the epoch): SEND_RATE_PER_SECOND across processes."""

    __tablename__ = "send_budgets"

    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_free_us: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ConversationNoticeRow(Base):
    """Where a conversation (``message_threads``) is shown to a user: the parent of a thread in their DM with the
    app (``channel``/``ts``, null until posted). ``claimed_at`` is set while a process posts to that thread
    (``claimed_by``: which), so the parent is posted once and the events in order (storage/conversations.py)."""

    __tablename__ = "conversation_notices"
    __table_args__ = (Index("ix_conversation_notices_place", "team_id", "channel", "ts"),)

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        Id, ForeignKey("message_threads.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ConversationEventRow(Base):
    """A conversation event (a reply, a bounce, an unsubscribe, a follow-up) recorded until it is shown in its
    Slack thread: ``done_at`` set once shown (or given up, with ``last_error``); ``posted_ts`` is its message in
    the thread once posted; ``files`` the ids of its clean files in ``attachments``, ``held`` [name, why] pairs."""

    __tablename__ = "conversation_events"
    __table_args__ = (
        Index("ix_conversation_events_due", "done_at", "due_at"),
        Index("ix_conversation_events_conversation", "team_id", "thread_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    thread_id: Mapped[int] = mapped_column(
        Id, ForeignKey("message_threads.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    mpid: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    draft_id: Mapped[int | None] = mapped_column(Id, nullable=True)
    files: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    held: Mapped[list[list[str]]] = mapped_column(JSON, nullable=False, default=list)
    posted_ts: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class ConversationReplyRow(Base):
    """A reply written in a conversation's Slack thread, sent as the draft ``draft_id`` (one recipient): its Slack
    message (``source_channel``/``source_ts``) is unique, so a message delivered twice is sent once; an e-mail
    reply carries ``in_reply_to`` and ``reference_ids`` (space separated) as its threading headers."""

    __tablename__ = "conversation_replies"
    __table_args__ = (
        UniqueConstraint("team_id", "source_channel", "source_ts", name="uq_conversation_replies_source"),
    )

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    draft_id: Mapped[int] = mapped_column(Id, ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        Id, ForeignKey("message_threads.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    source_channel: Mapped[str] = mapped_column(String(32), nullable=False)
    source_ts: Mapped[str] = mapped_column(String(32), nullable=False)
    in_reply_to: Mapped[str] = mapped_column(String(998), nullable=False, default="")
    reference_ids: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class HandledMailRow(Base):
    """An inbound e-mail (a bounce) already acted on, by its Message-ID (or the sender's idempotency key): the same
    mail read twice — a replayed POST, two polls — acts once. Replies are kept once by ``thread_messages``."""

    __tablename__ = "handled_mail"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    mail_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class MailboxRow(Base):
    """Where the app stands in a user's own mailbox (IMAP): the INBOX's UIDVALIDITY and the last UID read, the
    poller holding it now (``holder`` until ``held_until``: one poller per mailbox across processes), and when
    the server refused the login (``broken_at``: not polled until the user connects again)."""

    __tablename__ = "mailboxes"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_uid: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    holder: Mapped[str | None] = mapped_column(String(128), nullable=True)
    held_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    broken_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WorkspaceRow(Base):
    """A workspace the app is installed in through Slack's OAuth flow, or an Enterprise Grid org installed
    org-wide (``team_id`` is then the org's ``E…`` id) and each of the org's workspaces seen since
    (``org_install``, ``enterprise_id`` the org). The key a workspace's settings hang off; ``uninstalled_at``
    starts the wait before its data is deleted (RETENTION_DAYS_AFTER_UNINSTALL). Its tokens live in
    ``slack_bots`` / ``slack_installations``, encrypted (bot/installs/store.py)."""

    __tablename__ = "workspaces"
    __table_args__ = (Index("ix_workspaces_enterprise", "enterprise_id"),)

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    enterprise_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    org_install: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    installed_by: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WorkspaceSettingsRow(Base):
    """A workspace's own settings over the environment's defaults (outreach/workspace_settings.py): an empty value
    (NULL days) is the default. The SMTP password and the webhook secret are Fernet ciphertexts (SECRET_KEY)."""

    __tablename__ = "workspace_settings"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    from_address: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    from_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    smtp_host: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    smtp_port: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    smtp_security: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    smtp_username: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    smtp_password_encrypted: Mapped[str] = mapped_column(Text, nullable=False, default="")
    webhook_url: Mapped[str] = mapped_column(Text, nullable=False, default="")
    webhook_secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False, default="")
    senders_usergroup: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    recent_contact_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    digest_time: Mapped[str] = mapped_column(String(5), nullable=False, default="")
    updated_by: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


# slack_sdk's SQLAlchemy stores (slack_sdk.oauth.installation_store.sqlalchemy, .state_store.sqlalchemy) read and
# write these three tables with their own column names; we make them with our migrations (0017) instead of the
# stores' create_tables(), on the app's own database. Tokens are Fernet ciphertexts (longer than slack_sdk's
# String(200)): Text. Times are naive UTC, as slack_sdk writes them (sqlalchemy_utils.normalize_datetime_for_db).
_Naive = DateTime(timezone=False)


class SlackInstallationRow(Base):
    """slack_sdk's ``slack_installations``: one row per install (a new one on each reinstall; the latest wins)."""

    __tablename__ = "slack_installations"
    __table_args__ = (
        Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(32), nullable=False)
    app_id: Mapped[str] = mapped_column(String(32), nullable=False)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_name: Mapped[str | None] = mapped_column(String(200))
    enterprise_url: Mapped[str | None] = mapped_column(String(200))
    team_id: Mapped[str | None] = mapped_column(String(32))
    team_name: Mapped[str | None] = mapped_column(String(200))
    bot_token: Mapped[str | None] = mapped_column(Text)
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_scopes: Mapped[str | None] = mapped_column(String(1000))
    bot_refresh_token: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None] = mapped_column(_Naive)
    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    user_token: Mapped[str | None] = mapped_column(Text)
    user_scopes: Mapped[str | None] = mapped_column(String(1000))
    user_refresh_token: Mapped[str | None] = mapped_column(Text)
    user_token_expires_at: Mapped[datetime | None] = mapped_column(_Naive)
    incoming_webhook_url: Mapped[str | None] = mapped_column(Text)
    incoming_webhook_channel: Mapped[str | None] = mapped_column(String(200))
    incoming_webhook_channel_id: Mapped[str | None] = mapped_column(String(200))
    incoming_webhook_configuration_url: Mapped[str | None] = mapped_column(String(200))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    token_type: Mapped[str | None] = mapped_column(String(32))
    installed_at: Mapped[datetime] = mapped_column(_Naive, nullable=False)


class SlackBotRow(Base):
    """slack_sdk's ``slack_bots``: the bot token of each install (what every request and background job uses)."""

    __tablename__ = "slack_bots"
    __table_args__ = (Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(32), nullable=False)
    app_id: Mapped[str] = mapped_column(String(32), nullable=False)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_name: Mapped[str | None] = mapped_column(String(200))
    team_id: Mapped[str | None] = mapped_column(String(32))
    team_name: Mapped[str | None] = mapped_column(String(200))
    bot_token: Mapped[str | None] = mapped_column(Text)
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_scopes: Mapped[str | None] = mapped_column(String(1000))
    bot_refresh_token: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None] = mapped_column(_Naive)
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    installed_at: Mapped[datetime] = mapped_column(_Naive, nullable=False)


class SlackOAuthStateRow(Base):
    """slack_sdk's ``slack_oauth_states``: each ``state`` handed out by ``/slack/install``, consumed (deleted) by
    the one redirect that brings it back before ``expire_at``."""

    __tablename__ = "slack_oauth_states"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(200), nullable=False)
    expire_at: Mapped[datetime] = mapped_column(_Naive, nullable=False)


class TemplateRow(Base):
    """A shared template (outreach/templates.py). ``name_key``: the name trimmed and case-folded, unique per
    workspace, also what the template menu searches."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = _team()
    author_id: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    name_key: Mapped[str] = mapped_column(String(255), nullable=False)  # case folding can triple a name
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(998), nullable=False, default="")
    content: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("team_id", "name_key", name="uq_templates_name"),)


class TemplateAttachmentRow(Base):
    """A template's files: the stored (already checked) attachments, in order."""

    __tablename__ = "template_attachments"

    template_id: Mapped[int] = mapped_column(
        Id, ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[int] = mapped_column(
        Id, ForeignKey("attachments.id", ondelete="RESTRICT"), primary_key=True
    )
    team_id: Mapped[str] = _team()
    position: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_template_attachments_attachment", "attachment_id"),)
