"""What the core needs from the outside world, as small Protocols. Adapters implement them."""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterator, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from outreach.models import (
    Ad,
    Attachment,
    AuditEvent,
    Channel,
    Claimed,
    ConversationEvent,
    ConversationNotice,
    ConversationReply,
    Delivery,
    DeliveryStatus,
    Draft,
    DraftStatus,
    DraftSummary,
    KeysetPage,
    MailAccount,
    MailboxState,
    MatchCounts,
    OutgoingEmail,
    OutgoingMessage,
    Partner,
    PendingEvent,
    Prospect,
    ProspectQuery,
    ReadyMail,
    Recipient,
    ResultRow,
    ScanVerdict,
    SendNotice,
    SendRecord,
    SentEmail,
    SentGroup,
    StoredAccount,
    Template,
    TemplateSummary,
    Thread,
    ThreadEmail,
    ThreadMessage,
    UpsertCounts,
    Workspace,
    WorkspaceSettings,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class Sniffer(Protocol):
    def sniff(self, data: bytes) -> str:
        """The MIME type of ``data`` judged by its content (``application/pdf`` …)."""
        ...


class Scanner(Protocol):
    def scan(self, data: bytes) -> ScanVerdict:
        """Scan ``data`` for malware. Never raises for scanner trouble: that is UNSCANNABLE."""
        ...


class MailSession(Protocol):
    """One SMTP connection for a batch; ``with mailer.open() as session: session.send(...)``."""

    def send(self, email: OutgoingEmail) -> str:
        """Send one message (reconnecting once if the server dropped the connection); returns the
        Message-ID. Raises DeliveryFailed, ``permanent`` telling whether a retry may help."""
        ...

    def build(self, email: OutgoingEmail) -> ReadyMail:
        """The message as it will go out (no I/O; safe to call from another thread while this session sends).
        Raises a permanent DeliveryFailed for a message that cannot be built."""
        ...

    def send_ready(self, mail: ReadyMail) -> str:
        """``send`` for a message already built (by this session); returns its Message-ID."""
        ...

    def close(self) -> None:
        """Say QUIT and close the connection; safe to call twice."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Mailer(Protocol):
    def open(self) -> MailSession:
        """A session for a batch; the connection is made on the first send and reused after it."""
        ...


class MessageTransport(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Deliver an in-platform message; returns the provider's message id. Raises DeliveryFailed."""
        ...


class MailboxSession(Protocol):
    """A logged-in connection to a user's mailbox, INBOX opened read-only; ``with reader.open(account) as box``.
    Every method raises MailboxRefused (``login=False``) when the connection fails."""

    def select(self) -> tuple[int, int]:
        """(UIDVALIDITY, UIDNEXT) of INBOX."""
        ...

    def uids(self, after: int, since: date | None = None) -> list[int]:
        """UIDs above ``after`` (received on or after ``since``, when given), ascending."""
        ...

    def headers(self, uids: Sequence[int], fields: Sequence[str]) -> dict[int, tuple[int, bytes]]:
        """{uid: (size in bytes, its header lines named by ``fields``)}; read without marking anything seen."""
        ...

    def messages(self, uids: Sequence[int]) -> dict[int, bytes]:
        """{uid: the whole raw message}; read without marking anything seen."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class MailboxReader(Protocol):
    def open(self, account: MailAccount) -> MailboxSession:
        """Connect, secure and log in with the account's IMAP settings. Raises MailboxRefused (``login``: the
        user name or password was refused)."""
        ...


class MailboxAlerts(Protocol):
    def login_refused(self, team_id: str, user_id: str, mailbox: str) -> None:
        """Tell the user, once, that their mailbox refused the login (``mailbox``: user@host) and that replies
        are not read until they connect again. Returns at once or soon; never raises for the telling."""
        ...


# --- Storage -------------------------------------------------------------------------------------------
# The core reaches the database only through a unit of work. Every method takes the workspace (team_id)
# and never returns another workspace's rows. Repositories never commit: the unit of work does.


class PartnerRepository(Protocol):
    def upsert_many(
        self,
        team_id: str,
        partners: Sequence[Partner],
        *,
        mark_prospects: Collection[str] = (),
        marked_by: str = "",
    ) -> UpsertCounts:
        """Insert or update by (team_id, mpid); mpids in ``mark_prospects`` become prospects if not already.
        A row whose values did not change is not written (and counted as unchanged)."""
        ...

    def get(self, team_id: str, mpid: str) -> Partner | None: ...

    def get_many(self, team_id: str, mpids: Collection[str]) -> dict[str, Partner]: ...

    def known(self, team_id: str, mpids: Collection[str]) -> set[str]:
        """Those of ``mpids`` that are partners of the workspace (nothing else is read)."""
        ...

    def countries(self, team_id: str) -> list[str]:
        """The countries of this workspace's partners, sorted, for the list's filter."""
        ...

    def with_email(self, team_id: str, email: str) -> list[Partner]:
        """The workspace's partners at this address (compared without case), by mpid."""
        ...


class ProspectRepository(Protocol):
    def page(
        self,
        team_id: str,
        query: ProspectQuery,
        *,
        after: str | None = None,
        before: str | None = None,
        at: str | None = None,
        size: int = 10,
        picked_by: str | None = None,
        known_behind: bool = False,
    ) -> KeysetPage:
        """Sorted by company name (contact name when there is none), then mpid. ``at`` is inclusive. With
        ``picked_by``, the page's ``picked`` says which of its rows that user has picked and its
        ``picked_count`` how many they have picked in all (when the page has rows: read with them).
        ``known_behind``: the caller knows rows lie on the other side of the cursor (before ``after`` or ``at``,
        after ``before``), so the page says so without asking the database; otherwise it asks with the rows."""
        ...

    def count(self, team_id: str, query: ProspectQuery, cap: int | None = None) -> int:
        """How many match; with ``cap``, at most ``cap`` (counting stops there)."""
        ...

    def get(self, team_id: str, mpid: str) -> Prospect | None: ...

    def mark(self, team_id: str, mpids: Collection[str], *, by: str, at: datetime) -> int:
        """Mark partners as prospects (those already marked keep their date); returns how many changed."""
        ...

    def mark_contacted(self, team_id: str, mpids: Collection[str], at: datetime, by: str = "") -> int:
        """Partners contacted at ``at`` by ``by`` (a Slack user), unless they were contacted later already."""
        ...

    def match_counts(
        self, team_id: str, query: ProspectQuery, *, user_id: str, recent_since: datetime | None
    ) -> MatchCounts:
        """Counts over every partner ``query`` matches (one statement): messaging on, with an address, address
        suppressed, contacted since ``recent_since`` by someone other than ``user_id``."""

    def contacts(self, team_id: str, mpids: Collection[str]) -> dict[str, tuple[datetime, str]]:
        """{mpid: (last contacted at, by whom)} for those of ``mpids`` ever contacted (a query per 500 mpids)."""
        ...


class AdRepository(Protocol):
    def upsert_many(self, team_id: str, ads: Sequence[Ad]) -> UpsertCounts: ...

    def get(self, team_id: str, adid: str) -> Ad | None: ...

    def get_many(self, team_id: str, adids: Collection[str]) -> dict[str, Ad]: ...

    def all(self, team_id: str) -> list[Ad]: ...


class DraftRepository(Protocol):
    """Drafts with their attachments. A draft's recipients are fixed when it is added: a draft may have
    100,000 of them, so they are counted (``Draft.recipient_count``) and streamed, never loaded with it."""

    def add(self, draft: Draft, recipients: Sequence[str]) -> Draft:
        """Store a new draft to these mpids, in this order, duplicates dropped (its attachments must have
        ids); returns it with id, timestamps and recipient count."""
        ...

    def get(self, team_id: str, draft_id: int, *, for_update: bool = False) -> Draft | None:
        """``for_update``: lock it until the transaction ends (a draft being edited or planned)."""
        ...

    def save(self, draft: Draft) -> Draft:
        """Replace an existing draft's fields, status and attachments (not its recipients). Raises NotFound."""
        ...

    def set_status(
        self,
        team_id: str,
        draft_id: int,
        status: DraftStatus,
        *,
        only_from: DraftStatus | Collection[DraftStatus] | None = None,
    ) -> bool:
        """Change the status; with ``only_from`` (a status, or any of several), only if it is that now (the check
        and the change are one statement, so of two concurrent callers one gets False; on PostgreSQL the row
        stays locked until the transaction ends). Raises NotFound for an unknown draft."""
        ...

    def schedule(self, team_id: str, draft_id: int, start_at: datetime) -> bool:
        """DRAFT → SCHEDULED, planned by the workers from ``start_at`` (:meth:`DeliveryQueue.scheduled_due`);
        False when it is not a DRAFT now. Raises NotFound for an unknown draft."""
        ...

    def steps(self, team_id: str, draft_id: int) -> list[Draft]:
        """The follow-up steps of the send ``draft_id`` (drafts whose ``parent_id`` it is), in step order."""
        ...

    def audience(
        self, team_id: str, draft_id: int, *, contacted_since: datetime | None = None, author_id: str = ""
    ) -> Generator[Recipient, None, None]:
        """The draft's recipients that are still partners of the workspace, in the draft's order. Streamed a
        few thousand rows at a time: consume it while the unit of work is open. With ``contacted_since``,
        ``last_contacted_at``/``_by`` are filled in for those whose latest contact was by someone else than
        ``author_id`` since then (and left empty for everyone else)."""
        ...

    def has_recipient(self, team_id: str, draft_id: int, mpid: str) -> bool: ...

    def delete(self, team_id: str, draft_id: int) -> None:
        """Remove a draft with its recipient and attachment links (the attachments' rows stay). Raises NotFound."""
        ...

    def for_author(
        self, team_id: str, author_id: str, statuses: Collection[DraftStatus] = (), *, files: bool = True
    ) -> list[Draft]:
        """The author's drafts (of these statuses), the latest changed first; ``files=False``: without their
        attachments (a list that shows none reads no file's bytes)."""
        ...

    def count_for_author(self, team_id: str, author_id: str, statuses: Collection[DraftStatus] = ()) -> int:
        """How many :meth:`for_author` would give, counted by the database (no draft or file is read)."""
        ...


class AttachmentRepository(Protocol):
    def add(self, team_id: str, attachment: Attachment) -> Attachment: ...

    def get(self, team_id: str, attachment_id: int) -> Attachment | None: ...


class TemplateRepository(Protocol):
    """A workspace's shared templates (outreach/templates.py); ``key``: a name trimmed and case-folded."""

    def add(self, template: Template) -> Template | None:
        """Stored with its files linked; None when the workspace has a template of that name already."""
        ...

    def save(self, template: Template) -> Template | None:
        """Its fields and files replaced; None when another template has that name."""
        ...

    def get(self, team_id: str, template_id: int) -> Template | None: ...

    def named(self, team_id: str, key: str) -> TemplateSummary | None: ...

    def search(self, team_id: str, key: str, channel: Channel | None, limit: int) -> list[TemplateSummary]:
        """Those whose name contains ``key`` (every one for ""), by name, at most ``limit``."""
        ...

    def count(self, team_id: str) -> int: ...

    def page(self, team_id: str, offset: int, limit: int) -> list[TemplateSummary]: ...

    def delete(self, team_id: str, template_id: int) -> bool: ...


class DeliveryRepository(Protocol):
    def plan(self, team_id: str, draft_id: int, skipped: Mapping[str, Collection[str]]) -> int:
        """The send plan of a draft, written by the database itself: a PENDING delivery for each recipient of
        the draft that is still a partner of the workspace, in the draft's order, except those in ``skipped``
        ({reason: mpids}), which are SKIPPED with their reason as the error. Returns how many are PENDING.
        Call it once per draft (the caller holds the draft's move to SENDING)."""
        ...

    def get(self, team_id: str, draft_id: int, mpid: str) -> Delivery | None: ...

    def sent_to(self, team_id: str, draft_id: int, mpids: Collection[str]) -> dict[str, Delivery]:
        """The draft's SENT deliveries to those of ``mpids`` it went to, by mpid (a query per 500 mpids)."""
        ...

    def plan_followups(self, team_id: str, draft_id: int, due: Mapping[str, datetime]) -> int:
        """PENDING deliveries of the follow-up step ``draft_id`` to these partners ({mpid: due time}), except to
        those it has one for already (planned once, whoever asks twice); returns how many were added."""
        ...

    def delay(self, team_id: str, draft_id: int, by_zone: Mapping[str, datetime], other: datetime) -> int:
        """The draft's PENDING deliveries become due at the time given for their partner's time zone; those to
        partners of a zone not given (or none) at ``other``. Returns how many were changed."""
        ...

    def for_draft(self, team_id: str, draft_id: int, *, unsent_only: bool = False) -> list[Delivery]:
        """The draft's deliveries in order; ``unsent_only``: all but the SENT ones (a summary's exceptions)."""
        ...

    def save(self, team_id: str, delivery: Delivery) -> None:
        """Write status, attempts, last error, provider message id and sent-at of an existing delivery."""
        ...

    def save_many(self, team_id: str, deliveries: Sequence[Delivery]) -> None:
        """``save`` for several, in one statement run for each (a group's results)."""
        ...


class DeliveryQueue(Protocol):
    """Claiming work across workspaces: the only storage calls that are not per workspace (workers serve all)."""

    def claim(self, worker_id: str, now: datetime, limit: int, draft_id: int | None = None) -> list[Claimed]:
        """Move up to ``limit`` due PENDING deliveries to CLAIMED for this worker, oldest first.

        Safe with several workers: on PostgreSQL ``FOR UPDATE SKIP LOCKED``; everywhere a conditional update
        (``WHERE status = 'pending'``) so a row is claimed by one worker only. Counts an attempt."""
        ...

    def retry_later(self, team_id: str, delivery_id: int, error: str, at: datetime) -> None:
        """A CLAIMED or IN_FLIGHT delivery that failed for a passing reason goes back to PENDING, due at ``at``."""
        ...

    def abandon_stale(self, claimed_before: datetime, reason: str) -> list[tuple[str, int]]:
        """Deliveries of a worker that died (claimed before ``claimed_before``): the IN_FLIGHT one (it may have
        left) becomes FAILED with ``reason``; CLAIMED ones (not attempted) go back to PENDING. Returns the
        (team, draft) pairs touched."""
        ...

    def sending_many(
        self, team_id: str, delivery_ids: Collection[int], worker_id: str, now: datetime
    ) -> set[int]:
        """CLAIMED → IN_FLIGHT right before these messages go out (one statement); returns the ids that were
        still ours (a row whose lease passed was taken back: not sent). Their lease starts again at ``now``
        (the worker's clock, as for ``claim``): it counts from when they went in flight."""
        ...

    def counts(self, team_id: str, draft_id: int) -> dict[DeliveryStatus, int]: ...

    def has_open(self, team_id: str, draft_id: int) -> bool:
        """Whether any delivery of the draft is PENDING, CLAIMED or IN_FLIGHT (cheap: asked after every batch)."""
        ...

    def requeue_failed(self, team_id: str, draft_id: int) -> int:
        """FAILED deliveries of a draft back to PENDING (attempts start again); returns how many."""
        ...

    def cancel_pending(self, team_id: str, draft_id: int, reason: str) -> int:
        """The draft's deliveries not on their way yet — PENDING, and CLAIMED ones a worker has not put in flight
        (it then finds them no longer its own) — become SKIPPED with ``reason``; returns how many."""
        ...

    def scheduled_due(self, now: datetime, limit: int = 20) -> list[tuple[str, int]]:
        """(team, draft) of SCHEDULED drafts whose start time has come, the longest due first."""
        ...

    def last_sender(self, team_id: str, mpid: str) -> str | None:
        """The author of the draft whose delivery to ``mpid`` was sent last, if any."""
        ...

    def send_log(self, team_id: str, since: datetime | None = None) -> list[SendRecord]:
        """Every finished delivery of the workspace (since ``since``), oldest first."""
        ...

    def finished_sending(self) -> list[tuple[str, int]]:
        """(team, draft) of every SENDING draft none of whose deliveries is PENDING, CLAIMED or IN_FLIGHT."""
        ...

    def end_open(self, team_id: str, reason: str, at: datetime) -> int:
        """FAILED with ``reason``: every delivery of the workspace not yet in flight (PENDING, or CLAIMED by a
        worker that has not put it in flight); returns how many. One in flight is left to its worker."""
        ...

    def sending_drafts(self) -> list[tuple[str, int]]:
        """(team, draft) of every draft with PENDING, CLAIMED or IN_FLIGHT deliveries."""
        ...


class ThreadRepository(Protocol):
    def open(self, team_id: str, mpid: str, channel: Channel, subject: str = "") -> Thread:
        """The thread with this partner on this channel, created if missing (messages not loaded)."""
        ...

    def add_message(self, team_id: str, thread_id: int, message: ThreadMessage) -> ThreadMessage:
        """Store a message with the links to its files (which must have ids). Raises AlreadyExists when
        the message has an ``external_id`` this workspace already holds (safe against concurrent inserts)."""
        ...

    def get(self, team_id: str, thread_id: int) -> Thread | None: ...

    def for_partner(self, team_id: str, mpid: str) -> list[Thread]: ...

    def by_external_id(self, team_id: str, external_id: str) -> tuple[Thread, ThreadMessage] | None:
        """The inbound message stored under this sender's id, with its thread (messages not loaded)."""
        ...

    def find_out_message(
        self,
        team_id: str,
        mpid: str,
        *,
        provider_message_id: str = "",
        delivery_id: int | None = None,
    ) -> tuple[Thread, ThreadMessage] | None:
        """An OUT message to this partner with this provider id (or delivery), with its thread."""
        ...

    def last_out_message(self, team_id: str, mpid: str) -> ThreadMessage | None:
        """The newest OUT message to this partner on any channel."""
        ...

    def last_replies(self, team_id: str, mpids: Collection[str]) -> dict[str, datetime]:
        """{mpid: when their latest IN message came}, on any channel, for those of ``mpids`` who wrote to us."""
        ...


class PickRepository(Protocol):
    """The prospects a user has ticked in /prospects (ticks survive paging, searching and filtering)."""

    def add(self, team_id: str, user_id: str, mpids: Collection[str]) -> None:
        """Pick those of ``mpids`` that are prospects of the workspace; any other id is left out."""
        ...

    def remove(self, team_id: str, user_id: str, mpids: Collection[str]) -> None: ...

    def clear(self, team_id: str, user_id: str) -> None: ...

    def count(self, team_id: str, user_id: str) -> int: ...

    def all(self, team_id: str, user_id: str) -> list[str]: ...

    def prospects(self, team_id: str, user_id: str) -> list[Prospect]:
        """The ticked partners that are prospects of the workspace, in the order ticked (one query)."""
        ...

    def count_prospects(self, team_id: str, user_id: str) -> int:
        """How many :meth:`prospects` there are, counted by the database."""
        ...

    def add_matching(self, team_id: str, user_id: str, query: ProspectQuery, at: datetime) -> int:
        """Pick every prospect ``query`` matches, in the database (one INSERT … SELECT, those already picked left
        alone); returns how many were new."""
        ...


class ListStates(Protocol):
    """What each render of a list showed, under a key its blocks carry (actions on an ephemeral message do not
    carry the message: SLACK.md §8.1). A state is only ever read back by the user it was shown to."""

    def add(self, key: str, team_id: str, user_id: str, state: str, at: datetime) -> None: ...

    def get(self, key: str, team_id: str, user_id: str) -> str | None: ...

    def purge(self, before: datetime) -> int:
        """Forget states made before ``before``; returns how many."""
        ...


class DigestRepository(Protocol):
    """Unsent drafts across workspaces (the digest serves all) and the once-a-day record per user."""

    def stale_drafts(self, created_before: datetime) -> list[DraftSummary]:
        """Every DRAFT created before ``created_before``, by workspace, author, then age (oldest first)."""
        ...

    def claim(self, team_id: str, user_id: str, day: date, at: datetime) -> bool:
        """Record that this user gets the digest of ``day``; False when someone already did (insert or
        ignore on a unique (workspace, user, day) key: a concurrent claim waits and then gets False)."""
        ...

    def release(self, team_id: str, user_id: str, day: date) -> None:
        """Undo a claim whose digest could not be delivered, so a later run may try again."""
        ...


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> AuditEvent: ...

    def recent(
        self, team_id: str, *, limit: int = 100, draft_id: int | None = None, mpid: str = ""
    ) -> list[AuditEvent]: ...


class SuppressionRepository(Protocol):
    """Addresses never e-mailed again in a workspace: they unsubscribed or bounced permanently."""

    def add(self, team_id: str, email: str, reason: str, detail: str = "") -> bool: ...

    def among(self, team_id: str, emails: Collection[str]) -> dict[str, str]:
        """{lower-cased address: reason} for the suppressed ones among ``emails``."""
        ...

    def emails(self, team_id: str) -> frozenset[str]:
        """Every suppressed address of the workspace, lower-cased (read once for a whole send plan)."""
        ...


class AppKeys(Protocol):
    def get_or_create(self, name: str) -> str: ...


class MailAccountRepository(Protocol):
    def put(self, account: StoredAccount) -> None: ...

    def get(self, team_id: str, user_id: str) -> StoredAccount | None: ...

    def remove(self, team_id: str, user_id: str) -> bool: ...


class SeenEvents(Protocol):
    """Events already received, by their sender's id (Slack's ``event_id``), shared by every process."""

    def first_time(self, event_id: str, team_id: str, at: datetime) -> bool:
        """Record ``event_id`` as seen at ``at``; False when it was recorded already (an insert that conflicts:
        of two concurrent callers one gets False, once the other's transaction commits)."""
        ...

    def purge(self, before: datetime) -> int:
        """Forget events seen before ``before``; returns how many."""
        ...


class SendNotices(Protocol):
    """The DM of each send, shared by every process, written by one of them at a time: a process *holds* the
    notice (``take``/``reopen``: a conditional write that only one process wins) while it posts or updates the
    DM, then lets go (``written``/``release``). A hold taken before ``stale_before`` was left by a process that
    died: it may be taken over. ``unfinished`` is across workspaces (every process shows every workspace's)."""

    def get(self, team_id: str, draft_id: int) -> SendNotice | None: ...

    def take(
        self,
        team_id: str,
        draft_id: int,
        holder: str,
        now: datetime,
        *,
        stale_before: datetime,
        quiet_since: datetime | None = None,
    ) -> SendNotice | None:
        """Hold the notice (made if missing) to write the DM. None when another process holds it, when the
        summary has replaced it, or (with ``quiet_since``) when it was written after ``quiet_since``."""
        ...

    def reopen(
        self,
        team_id: str,
        draft_id: int,
        holder: str,
        now: datetime,
        *,
        stale_before: datetime,
        finished_before: datetime,
    ) -> SendNotice | None:
        """A new round of a send (Retry failed): a notice whose summary was shown before ``finished_before``
        starts again with no DM, held by ``holder``. None when it was not finished then, or is held."""
        ...

    def written(
        self,
        team_id: str,
        draft_id: int,
        holder: str,
        now: datetime,
        *,
        channel: str = "",
        ts: str = "",
        finished: bool = False,
        keep: bool = False,
    ) -> None:
        """The DM was written at ``now`` (just posted: its ``channel`` and ``ts``; ``finished``: the summary
        replaced it); ``holder`` lets go of it, unless ``keep`` (another write follows at once)."""
        ...

    def release(self, team_id: str, draft_id: int, holder: str) -> None:
        """``holder`` lets go without a write (Slack refused, or asked us to wait)."""
        ...

    def active(self, team_id: str, since: datetime) -> int:
        """The workspace's notices still showing progress that were written or held since ``since``: how many
        of its sends are updating their DMs now."""
        ...

    def unfinished(
        self, since: datetime, written_before: datetime, stale_before: datetime, limit: int = 100
    ) -> list[SendNotice]:
        """Notices still showing progress whose send is over (the draft no longer SENDING), last written (or
        held) between ``since`` and ``written_before`` and not held now: summaries that the process which
        closed the send did not live to show."""
        ...


class SendBudgets(Protocol):
    """Each sending account's next free send time, shared by every worker process (SEND_RATE_PER_SECOND)."""

    def reserve(self, account: str, slots: int, interval_us: int, now_us: int) -> int:
        """Take ``slots`` sends of ``account``, ``interval_us`` apart, starting at the later of ``now_us`` and the
        account's next free time (µs since the epoch), which moves on past them; returns the first one's time.
        Atomic: two callers, in any processes, never get the same time."""
        ...


class ConversationNotices(Protocol):
    """Where each conversation is shown to a user (a thread in their DM with the app), shared by every process. A
    process *holds* a notice while it posts to that thread (``take``: a conditional write only one process wins),
    so the thread's parent is posted once and its events in order; a hold taken before ``stale_before`` was left
    by a process that died and may be taken over."""

    def get(self, team_id: str, thread_id: int, user_id: str) -> ConversationNotice | None: ...

    def at(self, team_id: str, channel: str, ts: str) -> ConversationNotice | None:
        """The conversation whose Slack thread has its parent at ``channel``/``ts`` in this workspace."""
        ...

    def take(
        self,
        team_id: str,
        thread_id: int,
        user_id: str,
        holder: str,
        now: datetime,
        *,
        stale_before: datetime,
    ) -> ConversationNotice | None:
        """Hold the notice (made if missing); None when another process holds it."""
        ...

    def placed(
        self, team_id: str, thread_id: int, user_id: str, holder: str, *, channel: str, ts: str
    ) -> None:
        """The thread's parent was posted at ``channel``/``ts`` (``holder`` keeps its hold)."""
        ...

    def release(self, team_id: str, thread_id: int, user_id: str, holder: str, now: datetime) -> None:
        """``holder`` lets go of the notice."""
        ...


class ConversationOutbox(Protocol):
    """Conversation events recorded until they are shown, shared by every process (across workspaces: every
    process shows every workspace's). An event is shown once it is ``done``; one that failed waits until its
    ``due_at`` (``later``); one that cannot be shown is kept with why (``give_up``)."""

    def add(self, event: ConversationEvent, file_ids: Sequence[int], now: datetime) -> int:
        """Record ``event`` (its ``thread_id`` set; its files stored as attachments ``file_ids``); its id."""
        ...

    def due(self, now: datetime, limit: int = 50) -> list[tuple[str, int, str]]:
        """(team, thread, user) of the conversations with an event due by ``now``, the oldest event first."""
        ...

    def pending(self, team_id: str, thread_id: int, user_id: str, limit: int = 20) -> list[PendingEvent]:
        """The conversation's events not shown yet, in the order they were recorded, with their files."""
        ...

    def posted(self, event_id: int, ts: str) -> None:
        """The event's message is in the Slack thread at ``ts`` (its files may still be to upload)."""
        ...

    def done(self, event_id: int, now: datetime) -> None: ...

    def later(self, event_id: int, due_at: datetime, error: str, *, failed: bool = True) -> int:
        """Try the event again at ``due_at``; returns the attempts that failed, this one included (``failed``:
        False for a wait Slack asked for, which is no failure)."""
        ...

    def give_up(self, event_id: int, now: datetime, error: str) -> None:
        """The event cannot be shown (kept, with why, never tried again)."""
        ...


class ConversationReplies(Protocol):
    """Replies written in a conversation's Slack thread and sent as drafts of one recipient."""

    def add(self, reply: ConversationReply, now: datetime) -> bool:
        """Record the reply; False when its Slack message (``source_channel``/``source_ts``) was recorded already
        (a unique key: of two concurrent callers one gets False, once the other's transaction commits)."""
        ...

    def get(self, team_id: str, draft_id: int) -> ConversationReply | None: ...

    def by_source(self, team_id: str, channel: str, ts: str) -> ConversationReply | None: ...

    def sent_emails(self, team_id: str, mpid: str, limit: int = 20) -> list[ThreadEmail]:
        """The latest e-mails sent to the partner (their Message-IDs and drafts' fields), oldest first."""
        ...

    def received_emails(self, team_id: str, mpid: str, limit: int = 20) -> list[tuple[str, datetime]]:
        """The latest e-mails the partner sent us that we kept (inbound messages of their e-mail conversation
        whose id is a Message-ID, ``<…@…>``): (Message-ID, when), oldest first."""


class InboundMailRepository(Protocol):
    """Inbound e-mail (replies, bounces) matched to the e-mails we sent, and the bounces already handled."""

    def sent(self, message_ids: Collection[str], team_id: str | None = None) -> list[SentEmail]:
        """The e-mails we sent with these Message-IDs (``<…>``), in ``team_id`` only when given (else in any
        workspace: a Message-ID names its workspace), newest first."""
        ...

    def sent_delivery(self, delivery_id: int) -> SentEmail | None:
        """The e-mail of this delivery (any workspace: the caller checks the signed address's workspace)."""
        ...

    def first_time(self, team_id: str, mail_id: str, at: datetime) -> bool:
        """Record that the inbound mail ``mail_id`` (its Message-ID, or the sender's idempotency key) was
        handled; False when it was already (an insert that conflicts: of two concurrent callers one gets False)."""
        ...


class Mailboxes(Protocol):
    """Users' own mailboxes the app reads (IMAP): where each stands, and who polls it now. A poller *holds* a
    mailbox (``take``, a conditional write only one process wins) until ``until``, renews the hold as it moves
    on (``advance``) and lets go (``release``); a hold past its ``until`` was left by a process that died."""

    def readable(self) -> list[tuple[str, str]]:
        """(team, user) of every connected account with a mailbox to read whose login was not refused."""
        ...

    def take(
        self, team_id: str, user_id: str, holder: str, now: datetime, until: datetime
    ) -> MailboxState | None:
        """Hold the mailbox until ``until`` (its state made if missing). None when another holder's hold has not
        run out, or the login was refused."""
        ...

    def advance(
        self, team_id: str, user_id: str, holder: str, *, uidvalidity: int, last_uid: int, until: datetime
    ) -> bool:
        """Record how far the holder has read, and hold on until ``until``; False when the hold was lost."""
        ...

    def release(self, team_id: str, user_id: str, holder: str) -> None: ...

    def refused(self, team_id: str, user_id: str, at: datetime) -> bool:
        """The server refused the login: stop polling. True only the first time (whoever gets it tells the
        user, once)."""
        ...

    def reset(self, team_id: str, user_id: str, *, same_mailbox: bool) -> None:
        """The user connected (again): polling may start; a different mailbox is read from its start."""
        ...


class ConversationEvents(Protocol):
    """Where the core's conversation events go: the Slack adapter shows each in its author's thread. ``publish``
    returns at once (a publisher of the adapter's own does the Slack work), so a worker is never held up."""

    def publish(self, event: ConversationEvent) -> None: ...


class WorkspaceSettingsRepository(Protocol):
    """A workspace's own settings (:mod:`outreach.workspace_settings`); the secrets in and out are ciphertext."""

    def get(self, team_id: str) -> WorkspaceSettings | None: ...

    def put(self, settings: WorkspaceSettings) -> None:
        """Insert or replace the workspace's settings."""
        ...


class WorkspaceRepository(Protocol):
    """The workspaces installed from a link (Slack's OAuth flow); every other table is scoped by ``team_id``."""

    def get(self, team_id: str) -> Workspace | None: ...

    def put(self, workspace: Workspace) -> None:
        """Insert or replace (a reinstall clears ``uninstalled_at``)."""
        ...

    def add_if_absent(self, workspace: Workspace) -> bool:
        """Insert unless the team is known (an org's workspace seen for the first time); True when inserted."""
        ...

    def members(self, enterprise_id: str) -> list[str]:
        """The workspaces of an org served by its org-wide install."""
        ...

    def uninstall(self, team_ids: Collection[str], at: datetime) -> list[str]:
        """Mark those still installed uninstalled at ``at``; returns them."""
        ...

    def all(self) -> list[Workspace]: ...

    def sends_since(self, since: datetime) -> dict[str, int]:
        """Deliveries sent since ``since``, per workspace."""
        ...

    def uninstalled_before(self, before: datetime) -> list[str]: ...

    def purge(self, team_id: str, *, uninstalled_before: datetime | None = None) -> bool:
        """Delete the workspace's rows from every table (its tokens too), its own row last. With
        ``uninstalled_before``: only while it is still uninstalled since before then. False when there was
        nothing to purge (reinstalled meanwhile, or purged by another process first)."""
        ...


class OutreachStats(Protocol):
    """The counts behind the dashboard and ``/prospects stats`` (outreach/stats.py says what each one means), and a
    send's results. ``author_id`` None: the whole workspace."""

    def sent_groups(
        self,
        team_id: str,
        author_id: str | None,
        since: datetime,
        until: datetime,
        weeks: Sequence[datetime],
    ) -> list[SentGroup]:
        """Deliveries sent in [since, until], counted per draft and per week (``weeks``: each week's start, in
        order; a group's ``week`` is an index into it)."""
        ...

    def failed(self, team_id: str, author_id: str | None, since: datetime, until: datetime) -> int: ...

    def unsubscribed(self, team_id: str, author_id: str | None, since: datetime, until: datetime) -> int: ...

    def templates_of(self, team_id: str, root_ids: Sequence[int]) -> dict[int, str]:
        """For each of these drafts that was filled from a template: the template's name (its current one, else
        the one it had then)."""
        ...

    def results(self, team_id: str, draft_id: int) -> Iterator[ResultRow]:
        """One row per recipient of the draft, in the draft's order, streamed."""
        ...


class UnitOfWork(Protocol):
    """One transaction: ``with uow_factory() as uow: ...; uow.commit()``. Leaving without commit rolls back."""

    @property
    def partners(self) -> PartnerRepository: ...

    @property
    def prospects(self) -> ProspectRepository: ...

    @property
    def ads(self) -> AdRepository: ...

    @property
    def drafts(self) -> DraftRepository: ...

    @property
    def attachments(self) -> AttachmentRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def threads(self) -> ThreadRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def picks(self) -> PickRepository: ...

    @property
    def list_states(self) -> ListStates: ...

    @property
    def queue(self) -> DeliveryQueue: ...

    @property
    def digests(self) -> DigestRepository: ...

    @property
    def suppressions(self) -> SuppressionRepository: ...

    @property
    def keys(self) -> AppKeys: ...

    @property
    def accounts(self) -> MailAccountRepository: ...

    @property
    def seen_events(self) -> SeenEvents: ...

    @property
    def send_notices(self) -> SendNotices: ...

    @property
    def send_budgets(self) -> SendBudgets: ...

    @property
    def conversation_notices(self) -> ConversationNotices: ...

    @property
    def conversation_events(self) -> ConversationOutbox: ...

    @property
    def conversation_replies(self) -> ConversationReplies: ...

    @property
    def inbound_mail(self) -> InboundMailRepository: ...

    @property
    def mailboxes(self) -> Mailboxes: ...

    @property
    def workspaces(self) -> WorkspaceRepository: ...

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def stats(self) -> OutreachStats: ...

    @property
    def workspace_settings(self) -> WorkspaceSettingsRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
