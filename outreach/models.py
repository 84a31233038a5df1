"""Domain objects of the core. Plain, immutable dataclasses: no ORM, no Slack."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class PartnerKind(enum.StrEnum):
    PARTNER = "partner"
    CREATOR = "creator"


class AdType(enum.StrEnum):
    TEXT_LINK = "text-link"
    BANNER = "banner"


class Channel(enum.StrEnum):
    MESSAGE = "message"
    EMAIL = "email"


class DraftStatus(enum.StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"
    PARTIAL = "partial"  # finished, some deliveries failed
    FAILED = "failed"
    SCHEDULED = "scheduled"  # checked and waiting for its ``send_at`` (outreach/scheduling.py)
    WAITING = "waiting"  # a follow-up step nobody has been due for yet (outreach/followups.py)
    CANCELLED = "cancelled"  # a follow-up step the author cancelled


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # a worker owns it; nothing has been sent yet
    IN_FLIGHT = "in_flight"  # being sent right now: only this state can end "interrupted"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class ScanStatus(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    UNSCANNABLE = "unscannable"  # clamd down, too slow, stream too long: fail closed


@dataclass(frozen=True, slots=True)
class Partner:
    """A partner or creator of the marketplace, as seen by one workspace (team)."""

    team_id: str
    mpid: str
    name: str  # company / media-property name ("mpname")
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    kind: PartnerKind = PartnerKind.PARTNER
    messaging_enabled: bool = False
    country: str = ""
    website: str = ""
    categories: tuple[str, ...] = ()
    description: str = ""
    timezone: str = ""  # IANA name ("Asia/Tokyo"), empty when not known

    @property
    def contact_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True, slots=True)
class Prospect:
    """A partner the brand marked as prospect."""

    partner: Partner
    status: str = "new"
    marked_at: datetime | None = None
    marked_by: str = ""
    last_contacted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Ad:
    team_id: str
    adid: str
    name: str
    ad_type: AdType
    landing_url: str
    creative: str = ""  # link text for text links, image URL for banners
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """What token rendering needs to know about one recipient."""

    mpid: str
    mpname: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    messaging_enabled: bool = False
    # The partner's latest contact by anyone in the workspace (for the "contacted by a teammate" warning).
    last_contacted_at: datetime | None = None
    last_contacted_by: str = ""
    timezone: str = ""  # the partner's IANA time zone, when known

    @property
    def contact_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @classmethod
    def of(cls, partner: Partner) -> Recipient:
        return cls(
            mpid=partner.mpid,
            mpname=partner.name,
            first_name=partner.first_name,
            last_name=partner.last_name,
            email=partner.email,
            messaging_enabled=partner.messaging_enabled,
            timezone=partner.timezone,
        )


@dataclass(frozen=True, slots=True)
class ScanVerdict:
    status: ScanStatus
    signature: str = ""  # the virus name when infected
    detail: str = ""  # why it could not be scanned

    @property
    def clean(self) -> bool:
        return self.status is ScanStatus.CLEAN


@dataclass(frozen=True, slots=True)
class Attachment:
    """A checked attachment. ``data`` is kept so that sending never depends on Slack again."""

    filename: str
    mime_type: str
    sha256: str
    data: bytes = field(repr=False)
    verdict: ScanVerdict | None = None
    id: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A follow-up step as the author wrote it: "if no reply after ``days`` days, send ``content``" (with its
    own ``subject`` for an e-mail; empty: "Re: " and the first message's subject, in the same e-mail thread)."""

    days: int
    content: str
    subject: str = ""


@dataclass(frozen=True, slots=True)
class Draft:
    """A message to send. A send with follow-ups keeps its steps in ``followups`` while it is composed; once
    planned, each step is a draft of its own (``parent_id``: the first message's draft, ``step``: 1, 2, 3, and
    ``delay_days`` after the previous step). ``send_at``: when a SCHEDULED draft goes; with ``local_zone``, that
    time of day on that date as read in ``local_zone`` (the author's), in each partner's own time zone."""

    team_id: str
    author_id: str
    channel: Channel
    recipient_count: int = 0  # the recipients themselves are fixed at creation and read in a stream
    sender_name: str = ""
    reply_to: str = ""
    subject: str = ""
    content: str = ""
    attachments: tuple[Attachment, ...] = ()
    status: DraftStatus = DraftStatus.DRAFT
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    followups: tuple[FollowUp, ...] = ()
    send_at: datetime | None = None
    local_zone: str = ""
    parent_id: int | None = None
    step: int = 0
    delay_days: int = 0

    @property
    def root_id(self) -> int | None:
        """The draft of the send's first message (this one, unless it is a follow-up step)."""
        return self.parent_id if self.parent_id is not None else self.id


@dataclass(frozen=True, slots=True)
class Delivery:
    draft_id: int
    mpid: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    last_error: str = ""
    provider_message_id: str = ""
    sent_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One rendered e-mail for one recipient, ready for a :class:`~outreach.ports.Mailer`."""

    to: str
    sender_name: str
    reply_to: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # extra headers (List-Unsubscribe …)
    return_path: str = (
        ""  # the envelope sender asked for (VERP); a mailer that does not honour it uses its own
    )


@dataclass(frozen=True, slots=True)
class ReadyMail:
    """An e-mail built into the bytes that go over the wire, by the session that will send it.

    The bytes are in chunks, sent one after another: a chunk every message of a send shares (an encoded
    attachment) is one object for all of them, so a group in flight holds it once."""

    to: str  # the envelope recipient
    parts: tuple[bytes, ...] = field(repr=False)
    message_id: str
    international: bool = False  # needs SMTPUTF8
    envelope_from: str = ""  # MAIL FROM (the Return-Path bounces go to); empty: the mailer's own address

    @property
    def data(self) -> bytes:
        """The whole message (a copy: the wire takes :attr:`parts` one by one)."""
        return b"".join(self.parts)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One rendered in-platform message for one recipient."""

    team_id: str
    mpid: str
    author_id: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    idempotency_key: str = ""


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A file that came with an inbound message: kept, or quarantined (``quarantine`` says why: a problem
    code such as ``infected``, ``unscannable`` or ``type_not_allowed``; ``reason`` the English text).
    A quarantined file is stored with its verdict for review but never forwarded or offered."""

    attachment: Attachment
    quarantine: str = ""
    reason: str = ""

    @property
    def quarantined(self) -> bool:
        return bool(self.quarantine)


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """One message of a conversation with a partner, sent by us (OUT) or received (IN)."""

    direction: Direction
    body: str
    author_id: str = ""  # Slack user id for OUT, empty or the partner's address for IN
    provider_message_id: str = ""
    delivery_id: int | None = None
    at: datetime | None = None
    id: int | None = None
    external_id: str = ""  # the sender's id of an inbound message, unique per workspace (idempotency)
    files: tuple[ReceivedFile, ...] = ()  # the files of an inbound message, kept and quarantined


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation with one partner on one channel."""

    team_id: str
    mpid: str
    channel: Channel
    subject: str = ""
    messages: tuple[ThreadMessage, ...] = ()
    id: int | None = None
    created_at: datetime | None = None


class EventKind(enum.StrEnum):
    """What happened in a conversation with a partner (shown to its author in Slack)."""

    REPLY = "reply"  # the partner wrote back: an in-platform message or an e-mail
    BOUNCE = "bounce"  # an e-mail to the partner bounced: hard (suppressed) or soft (noted)
    UNSUBSCRIBED = "unsubscribed"  # the partner's address unsubscribed
    FOLLOWUP_SENT = "followup_sent"  # a follow-up step went to the partner
    FOLLOWUP_SKIPPED = (
        "followup_skipped"  # a follow-up step was not sent to the partner (``detail`` says why)
    )


@dataclass(frozen=True, slots=True)
class ConversationEvent:
    """Something that happened in the conversation of a workspace with one partner, on one channel.

    The core makes these (an inbound reply, a bounce, an unsubscribe, a follow-up); the Slack adapter shows each
    to ``author_id`` in that conversation's Slack thread (a publisher that never holds the caller up). ``files``:
    the partner's clean files, to be shown (uploaded) byte-identical; ``held``: files held back, (name, why):
    ``why`` is the file's problem code, ``infected: <signature>`` for a virus (outreach/conversations.py
    ``held_reason``).
    """

    team_id: str
    mpid: str
    author_id: str  # the Slack user to tell; "" when nobody is known (the event is then not shown)
    kind: EventKind
    channel: Channel  # the conversation: in-platform messages or e-mail
    at: datetime
    text: str = ""  # the partner's words, a bounce's diagnostic, a follow-up's text
    thread_id: int | None = None  # the stored conversation (``Thread``), when there is one
    draft_id: int | None = None  # the send it belongs to, when there is one
    files: tuple[Attachment, ...] = ()
    held: tuple[tuple[str, str], ...] = ()
    detail: str = ""  # a bounce: "<status> <diagnostic>"; a skipped follow-up: its reason's catalog key


@dataclass(frozen=True, slots=True)
class SentEmail:
    """An e-mail a workspace sent (a delivery with its Message-ID), as an inbound reply or bounce is matched to it:
    whose send it was, its subject, and the partner's address."""

    team_id: str
    delivery: Delivery
    author_id: str
    subject: str
    email: (
        str  # the partner's address now (lower-cased): a DSN about any other address is not about this send
    )


@dataclass(frozen=True, slots=True)
class MailboxState:
    """Where the app stands in a user's own mailbox (IMAP): the folder's UIDVALIDITY and the last UID read, so a
    poll reads only newer mail; ``broken_at`` when the server refused the login (polling stops until the user
    connects again)."""

    team_id: str
    user_id: str
    uidvalidity: int | None = None
    last_uid: int = 0
    broken_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FollowupFacts:
    """What decides, when a follow-up step falls due, whether it goes to one partner (outreach/followups.py)."""

    mpid: str
    previous_sent_at: datetime | None = None  # when the previous step went to them (None: it did not)
    previous_message_id: str = ""  # its Message-ID (or the platform's id), to thread the follow-up
    last_reply_at: datetime | None = None  # their latest message to us, on any channel
    last_contacted_at: datetime | None = None  # the latest contact by anyone of the workspace
    last_contacted_by: str = ""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Who did what to whom, when: ``action`` is a dotted verb (``draft.sent``, ``import.partners`` …)."""

    team_id: str
    actor_id: str
    action: str
    at: datetime
    draft_id: int | None = None
    mpid: str = ""
    detail: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DraftSummary:
    """What the digest shows of an unsent draft (no content, no files)."""

    team_id: str
    author_id: str
    draft_id: int
    channel: Channel
    subject: str
    excerpt: str  # the start of the content
    recipients: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MailAccount:
    """A user's own SMTP account. ``password`` is the plain password only in memory, never stored or shown."""

    team_id: str
    user_id: str
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str
    password: str = field(repr=False)
    from_address: str
    # Where replies and bounces are read (IMAP, same login): empty host when the mailbox is not read.
    imap_host: str = ""
    imap_port: int = 0
    imap_security: str = ""  # tls | starttls

    @property
    def reads_mail(self) -> bool:
        return bool(self.imap_host)


@dataclass(frozen=True, slots=True)
class ProspectQuery:
    """What a prospect (or marketplace) list shows.

    ``text`` matches contact name, company name, e-mail and mpid as a case-insensitive substring.
    ``messaging_enabled``/``kind``: None means any. ``country``: ISO code, empty means any.
    ``prospects_only``: False lists the whole marketplace (items whose ``marked_at`` is None are not prospects).
    """

    text: str = ""
    kind: PartnerKind | None = None
    messaging_enabled: bool | None = None
    country: str = ""
    not_contacted: bool = False
    prospects_only: bool = True


@dataclass(frozen=True, slots=True)
class KeysetPage:
    """One page of a keyset-paginated list. Cursors are opaque; pass them back as ``after``/``before``/``at``."""

    items: tuple[Prospect, ...]
    first_cursor: str | None
    last_cursor: str | None
    has_prev: bool
    has_next: bool
    picked: frozenset[str] = frozenset()  # the mpids on it the user asked about (``picked_by``) has picked
    picked_count: int | None = None  # how many that user has picked in all (None: not asked, or no rows)


@dataclass(frozen=True, slots=True)
class MatchCounts:
    """What a list's matches are, before every one of them is picked: how many, how many can be reached by
    in-platform message and by e-mail, how many addresses are suppressed, how many a teammate contacted lately."""

    total: int
    messageable: int
    emailable: int
    suppressed: int
    recent_by_teammate: int


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker has claimed (status CLAIMED), with its workspace."""

    team_id: str
    delivery: Delivery


@dataclass(frozen=True, slots=True)
class SendRecord:
    """One line of the audit trail of sends: who sent what to whom, when, and what came of it."""

    at: datetime
    author_id: str
    channel: str
    draft_id: int
    mpid: str
    email: str
    subject: str
    attachments: tuple[tuple[str, str], ...]  # (file name, sha256)
    result: str  # sent | failed | skipped
    detail: str  # provider message id, or why it failed or was skipped


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """A user's SMTP account as stored: the password only as ciphertext."""

    team_id: str
    user_id: str
    host: str
    port: int
    security: str
    username: str
    password_encrypted: str
    from_address: str
    imap_host: str = ""
    imap_port: int = 0
    imap_security: str = ""


@dataclass(frozen=True, slots=True)
class SendNotice:
    """The author's DM about one send, kept with the send: where it is (``channel``/``ts``, empty until it is
    posted), when it was last written, and when the summary replaced it (``finished_at``)."""

    team_id: str
    draft_id: int
    channel: str = ""
    ts: str = ""
    updated_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversationNotice:
    """Where one conversation (a ``Thread``) is shown to one Slack user: a thread in their DM with the app, its
    parent message at ``channel``/``ts`` (empty until the parent is posted)."""

    team_id: str
    thread_id: int
    user_id: str
    channel: str = ""
    ts: str = ""


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A conversation event recorded and not shown yet: ``posted_ts`` is its message in the Slack thread once
    that is posted (its files may still be to upload); ``attempts`` counts the tries that failed."""

    id: int
    event: ConversationEvent  # thread_id set, files with their bytes
    posted_ts: str = ""
    attempts: int = 0
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConversationReply:
    """A reply written in a conversation's Slack thread, sent as the draft ``draft_id``: ``source`` is the Slack
    message (channel, ts) it came from (sent once), ``in_reply_to``/``references`` the e-mail headers it carries."""

    team_id: str
    draft_id: int
    thread_id: int
    user_id: str
    source_channel: str
    source_ts: str
    in_reply_to: str = ""
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ThreadEmail:
    """An e-mail we sent to a partner, as a reply in its conversation answers it: its Message-ID and what it was
    sent as (the draft's fields, unrendered)."""

    message_id: str
    subject: str
    sender_name: str
    reply_to: str
    author_id: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Workspace:
    """A Slack workspace the app was installed in from a link (Slack's OAuth flow); for an Enterprise Grid org
    installed org-wide, the org itself (``team_id`` is then its ``E…`` id) and each of its workspaces seen since
    (``org_install``). Its tokens are kept apart (encrypted, by the Slack adapter); its settings hang off it."""

    team_id: str
    installed_at: datetime
    enterprise_id: str = ""
    name: str = ""
    enterprise_name: str = ""
    org_install: bool = False  # served by the org-wide install of ``enterprise_id``
    installed_by: str = ""  # the Slack user who installed it
    uninstalled_at: datetime | None = None  # its data is deleted RETENTION_DAYS_AFTER_UNINSTALL after this

    @property
    def installed(self) -> bool:
        return self.uninstalled_at is None


@dataclass(frozen=True, slots=True)
class Template:
    """A shared template (outreach/templates.py): a workspace's message kept by name, with its checked files."""

    team_id: str
    author_id: str
    name: str
    channel: Channel
    subject: str = ""
    content: str = ""
    attachments: tuple[Attachment, ...] = ()
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TemplateSummary:
    """A template as a list or a menu shows it (no file bytes)."""

    id: int
    name: str
    channel: Channel
    author_id: str
    subject: str = ""
    files: int = 0


@dataclass(frozen=True, slots=True)
class SentGroup:
    """What the database counts: the sends of one draft (a send's first message or a follow-up step, ``root_id``
    being the first message's draft) in one week of the window (``week``: its index, 0 the oldest)."""

    root_id: int
    week: int
    sent: int
    replied: int
    bounced: int


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One recipient of a send, for the results file."""

    mpid: str
    name: str
    address: str
    result: str  # sent | failed | bounced | skipped | pending
    detail: str
    sent_at: datetime | None
    replied_at: datetime | None


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str = ""
    password: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    """What a workspace set; an empty value (``None`` for the days) is the deployment's default.

    In memory ``smtp_password`` and ``webhook_secret`` are plain; the repository stores and returns them
    encrypted (only :class:`WorkspaceSettingsService` holds the cipher)."""

    team_id: str
    from_address: str = ""
    from_name: str = ""
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: str = ""
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    senders_usergroup: str = ""
    recent_contact_days: int | None = None
    digest_time: str = ""  # HH:MM
    updated_by: str = ""
    updated_at: datetime | None = None

    @property
    def smtp(self) -> SmtpServer | None:
        if not self.smtp_host:
            return None
        return SmtpServer(
            self.smtp_host, self.smtp_port, self.smtp_security, self.smtp_username, self.smtp_password
        )
