"""Replying from Slack: a message written in a conversation's Slack thread goes back to the partner.

The rules:

* The thread names the conversation: its parent's channel and ts, in this workspace
  (:meth:`ReplyService.find`). A message anywhere else is nobody's reply and is never sent.
* The reply goes as an in-platform message when the conversation is one and the partner has messaging enabled;
  else as an e-mail to the partner's address — refused when the address unsubscribed or bounced, or when there is
  neither way. An e-mail answers the last message of the conversation we know of (the e-mails we sent the partner
  and theirs that we kept): ``In-Reply-To`` its Message-ID, ``References`` the ones before it (at most
  :data:`MAX_REFERENCES`, the first kept, as RFC 5322 §3.6.4 suggests trimming). It takes the subject of our last
  e-mail to the partner with "Re: " in front (once), and that e-mail's sender name and reply-to address. With no
  e-mail before, the subject is the text's first line and the sender the writer (their Slack name and address).
* The text follows the form's token rules (``{firstName}`` is filled in for the partner, a misspelt token is
  refused) and limits; the files are checked and scanned like every outgoing file. Any problem refuses the whole
  reply, naming each: nothing is sent.
* Delivery is the send pipeline's (:mod:`outreach.delivery`): a draft of one recipient, planned — SENDING, one
  PENDING delivery — in one transaction with the record of the reply, so it is sent at most once by the workers,
  retried for a passing failure and scanned again on the way out. The Slack message it came from is unique: the
  same message delivered twice (or by two processes at once) is planned once, the other gets
  :class:`AlreadySent`. ``status``, when given, is where the reply's progress is shown (the send's notice), so
  the author sees "sent" or why not in the thread itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from outreach.attachments import AttachmentPolicy, ScanCache, check_attachments
from outreach.compose import CONTENT_MAX
from outreach.conversations import ConversationKey, reply_channel
from outreach.errors import Problem
from outreach.models import (
    Attachment,
    AuditEvent,
    Channel,
    ConversationReply,
    Draft,
    DraftStatus,
    Partner,
    Thread,
    ThreadEmail,
)
from outreach.ports import Clock, Scanner, Sniffer, UnitOfWork
from outreach.tokens import check
from outreach.validation import SUBJECT_MAX, check_headers

MAX_REFERENCES = 20
RE = "Re: "
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ReplyRoute:
    """Where a reply goes and how: the partner, the channel, and for an e-mail its header fields."""

    key: ConversationKey
    thread: Thread
    partner: Partner
    channel: Channel
    subject: str = ""
    sender_name: str = ""
    reply_to: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()

    @property
    def partner_name(self) -> str:
        return self.partner.name or self.partner.contact_name or self.partner.mpid


@dataclass(frozen=True, slots=True)
class Refused:
    """The reply cannot go: every reason (nothing was sent)."""

    partner_name: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class CheckedReply:
    route: ReplyRoute
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Planned:
    draft_id: int
    channel: Channel
    partner_name: str


@dataclass(frozen=True, slots=True)
class AlreadySent:
    """This Slack message was taken already (delivered twice): it is sent once, by the first."""

    draft_id: int


def re_subject(subject: str) -> str:
    """``Re: `` in front of the subject, once (``Re: Re: x`` is not written; any case of ``re:`` counts)."""
    stripped = subject.strip()
    if stripped[:3].lower() == "re:":
        return stripped
    return RE + stripped if stripped else ""


def first_line(text: str, limit: int = 78) -> str:
    """The first line of ``text`` with words, within ``limit`` characters (a subject for a first e-mail)."""
    for line in text.splitlines():
        words = " ".join(line.split())
        if words:
            return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"
    return ""


def threading(
    sent: Sequence[ThreadEmail], received: Sequence[tuple[str, datetime]]
) -> tuple[str, tuple[str, ...]]:
    """(``In-Reply-To``, ``References``) for a reply to the conversation of these e-mails (each oldest first):
    the last Message-ID, and all of them in order of time, trimmed to :data:`MAX_REFERENCES` keeping the first."""
    timed = [(e.at or _EPOCH, e.message_id) for e in sent] + [(at, mid) for mid, at in received]
    ordered = [mid for _, mid in sorted(timed, key=lambda pair: pair[0])]
    ids = tuple(dict.fromkeys(m for m in ordered if m))
    if not ids:
        return "", ()
    if len(ids) > MAX_REFERENCES:
        ids = (ids[0], *ids[-(MAX_REFERENCES - 1) :])
    return ids[-1], ids


class ReplyService:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        sniffer: Sniffer,
        scanner: Scanner,
        scan_cache: ScanCache,
        policy: AttachmentPolicy,
        work_waiting: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._sniffer = sniffer
        self._scanner = scanner
        self._cache = scan_cache
        self._policy = policy
        self._work_waiting = work_waiting

    def find(self, team_id: str, channel: str, thread_ts: str) -> ConversationKey | None:
        """The conversation whose Slack thread has its parent at ``channel``/``thread_ts``; None for any other."""
        with self._uow() as uow:
            notice = uow.conversation_notices.at(team_id, channel, thread_ts)
        return None if notice is None else ConversationKey(notice.team_id, notice.thread_id, notice.user_id)

    def handled(self, team_id: str, channel: str, ts: str) -> bool:
        """Whether this Slack message was taken as a reply already."""
        with self._uow() as uow:
            return uow.conversation_replies.by_source(team_id, channel, ts) is not None

    def check(
        self,
        key: ConversationKey,
        text: str,
        files: Sequence[tuple[str, bytes]] = (),
        *,
        sender_name: str = "",
        sender_email: str = "",
    ) -> CheckedReply | Refused:
        """Everything that would stop the reply, at once (the files scanned outside any transaction)."""
        fallback = first_line(text) or first_line(", ".join(name for name, _ in files))
        route = self._route(key, fallback, sender_name, sender_email)
        if isinstance(route, Refused):
            return route
        with self._uow() as uow:
            adids = {a.adid for a in uow.ads.all(key.team_id)}
        problems: list[Problem] = []
        if not text.strip() and not files:
            problems.append(Problem("content", "required", "Write something to send, or attach a file."))
        elif len(text) > CONTENT_MAX:
            problems.append(
                Problem(
                    "content",
                    "too_long",
                    f"The content is longer than {CONTENT_MAX} characters.",
                    (("limit", str(CONTENT_MAX)),),
                )
            )
        if route.channel is Channel.EMAIL:
            problems += check_headers(route.sender_name, route.reply_to, route.subject)
            problems += check(route.subject, adids, field="subject")
        problems += check(text, adids, field="content")
        checked = check_attachments(files, self._sniffer, self._scanner, self._policy, self._cache)
        problems += checked.problems
        if problems:
            return Refused(route.partner_name, tuple(problems))
        return CheckedReply(route, text, checked.accepted)

    def send(
        self,
        reply: CheckedReply,
        writer: str,
        source: tuple[str, str],
        *,
        status: tuple[str, str] | None = None,
        holder: str = "reply",
    ) -> Planned | AlreadySent | Refused:
        """Plan the reply (see the module doc); ``source``: the Slack message (channel, ts) it came from."""
        route, now = reply.route, self._clock.now()
        team_id = route.key.team_id
        with self._uow() as uow:
            earlier = uow.conversation_replies.by_source(team_id, *source)
            if earlier is not None:
                return AlreadySent(earlier.draft_id)
            stored = tuple(uow.attachments.add(team_id, a) for a in reply.attachments)
            draft = uow.drafts.add(
                Draft(
                    team_id,
                    writer,
                    route.channel,
                    sender_name=route.sender_name,
                    reply_to=route.reply_to,
                    subject=route.subject,
                    content=reply.text,
                    attachments=stored,
                    status=DraftStatus.SENDING,
                ),
                [route.partner.mpid],
            )
            assert draft.id is not None
            if not uow.deliveries.plan(team_id, draft.id, {}):
                gone = Problem("recipient", "gone", "The partner is no longer in this workspace.")
                return Refused(route.partner_name, (gone,))  # leaving without commit: nothing stored
            record = ConversationReply(
                team_id, draft.id, route.key.thread_id, writer, *source, route.in_reply_to, route.references
            )
            if not uow.conversation_replies.add(record, now):
                return AlreadySent(draft.id)  # taken by a concurrent delivery; ours is rolled back
            if status is not None:
                notices = uow.send_notices
                notices.take(team_id, draft.id, holder, now, stale_before=now)
                notices.written(team_id, draft.id, holder, now, channel=status[0], ts=status[1])
            uow.audit.record(
                AuditEvent(
                    team_id,
                    writer,
                    "conversation.replied",
                    now,
                    draft_id=draft.id,
                    mpid=route.partner.mpid,
                    detail=f"{route.channel.value}, {len(stored)} files",
                )
            )
            uow.commit()
        self._work_waiting()
        return Planned(draft.id, route.channel, route.partner_name)

    def _route(
        self, key: ConversationKey, first: str, sender_name: str, sender_email: str
    ) -> ReplyRoute | Refused:
        """The route; a first e-mail to the partner takes ``first`` as its subject, the writer as its sender."""
        with self._uow() as uow:
            thread = uow.threads.get(key.team_id, key.thread_id)
            partner = uow.partners.get(key.team_id, thread.mpid) if thread is not None else None
            if thread is None or partner is None:
                gone = Problem("recipient", "gone", "The partner is no longer in this workspace.")
                return Refused(thread.mpid if thread else "", (gone,))
            channel = reply_channel(thread.channel, partner.messaging_enabled, partner.email)
            name = partner.name or partner.contact_name or partner.mpid
            if channel is None:
                problem = Problem(
                    "recipient",
                    "no_route",
                    f"{name} has no e-mail address and does not accept messages: a reply cannot reach them.",
                    (("name", name),),
                )
                return Refused(name, (problem,))
            route = ReplyRoute(key, thread, partner, channel)
            if channel is Channel.MESSAGE:
                return route
            if uow.suppressions.among(key.team_id, [partner.email]):
                problem = Problem(
                    "recipient",
                    "suppressed",
                    f"{partner.email} unsubscribed or bounced: it is not e-mailed again.",
                    (("email", partner.email),),
                )
                return Refused(name, (problem,))
            sent = uow.conversation_replies.sent_emails(key.team_id, partner.mpid, MAX_REFERENCES)
            received = uow.conversation_replies.received_emails(key.team_id, partner.mpid, MAX_REFERENCES)
        in_reply_to, references = threading(sent, received)
        if sent:
            last = sent[-1]
            return dataclasses.replace(
                route,
                subject=re_subject(last.subject)[:SUBJECT_MAX],
                sender_name=last.sender_name,
                reply_to=last.reply_to,
                in_reply_to=in_reply_to,
                references=references,
            )
        subject = re_subject(thread.subject) if thread.subject else ""
        return dataclasses.replace(
            route,
            subject=(subject or first)[:SUBJECT_MAX],
            sender_name=sender_name,
            reply_to=sender_email,
            in_reply_to=in_reply_to,
            references=references,
        )
