"""Inbound e-mail: a partner's reply or a bounce, matched to the e-mail we sent, stored, told to its author.

``MailInboundService.receive(raw, team_id=…)`` takes one raw RFC 822 message (ValidationFailed when the bytes
do not even start with a header field) — POSTed to ``/mail/inbound`` by an
MTA pipe or an inbound-parse service (``team_id`` None: any workspace), or read from a user's own mailbox over
IMAP (``team_id``: that user's workspace) — and returns what came of it (:class:`MailOutcome`). The rules:

* **Matching.** A message belongs to the send whose Message-ID it names: ``In-Reply-To``, then ``References``
  newest first (a bounce: the ``Message-ID`` of the headers it returns, first). Else to the delivery named by
  the signed VERP address it was sent to (:mod:`outreach.bounce_address`), whose signature must hold for that
  delivery's workspace. With ``team_id`` only that workspace's sends match: mail about another workspace's send
  never reaches this one. **Unmatched mail is ignored** — never stored, never shown.
* **A bounce** is an RFC 3464 DSN (:mod:`outreach.mail_parsing`) with a recipient that failed (4.x.x or 5.x.x);
  the failed address must be the matched send's partner address, else it is ignored (a DSN for an address we
  never e-mailed). **5.x.x, hard**: the address goes on the workspace's suppression list (as a recipient refused
  while sending does), the delivery becomes FAILED with ``bounced: <status> <diagnostic>`` (its result in the
  send's summary and the audit export), and ``delivery.bounced`` is audited. **4.x.x, soft** (delayed): noted
  on the delivery (``delayed: …``; it stays SENT), audited as ``delivery.delayed``, not suppressed. A DSN that
  reports only successes, or a soft one after the hard one, changes nothing.
* **A reply** is stored as an IN message of the partner's e-mail thread (channel EMAIL, made if missing, with
  the send's subject), linked to the delivery it answers: the sender's words (quotes of our e-mail cut off) and
  files, each checked and scanned like an outgoing file — kept, or **quarantined** (infected, unscannable, a
  type off the allow-list …: stored with its verdict for review, never forwarded). An auto-reply
  (``Auto-Submitted``, out-of-office) is not a reply: ignored.
* **Once.** A message is handled once per workspace, by its Message-ID (else the sender's idempotency key, else
  the SHA-256 of its bytes): a reply through the stored message's ``external_id``, a bounce through the record
  of handled mail — both written in the transaction that acts on it. The same mail read twice (a replayed POST,
  two polls, a mailbox and an MTA pipe) is answered as a duplicate, and told once.
* **Told.** Each reply and each bounce that changed something becomes a :class:`ConversationEvent` (REPLY: the
  words, the kept files, the held ones with why; BOUNCE: ``detail`` = ``<status> <diagnostic>``) for the
  send's author, published after the commit.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from outreach.attachments import AttachmentPolicy, ScanCache, check_attachments
from outreach.bounce_address import BounceAddresses
from outreach.conversations import held_reason
from outreach.errors import AlreadyExists, Problem, ValidationFailed
from outreach.inbound import received_file, stored_form
from outreach.mail_parsing import DsnRecipient, InboundMail, looks_like_mail, parse_mail
from outreach.models import (
    AuditEvent,
    Channel,
    ConversationEvent,
    DeliveryStatus,
    Direction,
    EventKind,
    SentEmail,
    ThreadMessage,
)
from outreach.ports import Clock, ConversationEvents, Scanner, Sniffer, UnitOfWork

KEY_MAX = 200  # an Idempotency-Key longer than this is refused by the route


class Outcome(enum.StrEnum):
    REPLY = "reply"
    BOUNCE = "bounce"
    IGNORED = "ignored"


class Ignored(enum.StrEnum):
    """Why a message was not acted on."""

    UNMATCHED = "unmatched"  # names no e-mail we sent (or one of another workspace)
    AUTO_REPLY = "auto_reply"  # an out-of-office or other automatic answer
    NOT_OUR_RECIPIENT = "not_our_recipient"  # a DSN about an address the matched send did not go to
    NO_FAILURE = "no_failure"  # a DSN that reports only deliveries
    ALREADY_BOUNCED = "already_bounced"  # a soft bounce after the hard one


@dataclass(frozen=True, slots=True)
class MailOutcome:
    outcome: Outcome
    mail_id: str  # what makes it once: the Message-ID, the idempotency key or the bytes' hash
    team_id: str = ""
    ignored: Ignored | None = None
    duplicate: bool = False  # handled before: nothing changed, nobody told
    delivery_id: int | None = None
    thread_id: int | None = None
    message_id: int | None = None  # the stored reply
    hard: bool = False  # a bounce: 5.x.x
    detail: str = ""  # a bounce: "<status> <diagnostic>"
    kept: tuple[str, ...] = ()
    quarantined: tuple[tuple[str, str], ...] = ()  # (file name, problem code)


class MailInboundService:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        sniffer: Sniffer,
        scanner: Scanner,
        scan_cache: ScanCache,
        policy: AttachmentPolicy,
        events: ConversationEvents,
        bounces: BounceAddresses | None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._sniffer = sniffer
        self._scanner = scanner
        self._cache = scan_cache
        self._policy = policy
        self._events = events
        self._bounces = bounces

    def receive(self, raw: bytes, *, team_id: str | None = None, idempotency_key: str = "") -> MailOutcome:
        if not looks_like_mail(raw):
            raise ValidationFailed(
                [Problem("message", "not_a_message", "the body is not an RFC 822 message")]
            )
        mail = parse_mail(raw)
        mail_id = mail_id_of(mail, raw, idempotency_key)
        if mail.is_dsn:
            return self._bounce(mail, mail_id, team_id)
        if mail.auto_submitted:
            return MailOutcome(Outcome.IGNORED, mail_id, ignored=Ignored.AUTO_REPLY)
        with self._uow() as uow:
            sent = self._match(uow, mail.references, mail.recipients, team_id)
        if not sent:
            return MailOutcome(Outcome.IGNORED, mail_id, ignored=Ignored.UNMATCHED)
        return self._reply(mail, mail_id, sent[0])

    def worth_reading(self, summaries: Mapping[int, InboundMail], team_id: str) -> set[int]:
        """Which of these messages (by IMAP UID, read from their headers alone) may be ours to act on: every
        DSN, and each message that is not an auto-reply and names an e-mail this workspace sent or carries a
        VERP address of ours. One query for all of them."""
        named = {ref for s in summaries.values() if not s.is_dsn for ref in s.references}
        with self._uow() as uow:
            ours = (
                {s.delivery.provider_message_id for s in uow.inbound_mail.sent(named, team_id)}
                if named
                else set()
            )
        wanted = set()
        for uid, summary in summaries.items():
            if summary.is_dsn or (
                not summary.auto_submitted
                and (
                    ours.intersection(summary.references)
                    or (
                        self._bounces is not None
                        and self._bounces.delivery_in(summary.recipients) is not None
                    )
                )
            ):
                wanted.add(uid)
        return wanted

    # -- matching ------------------------------------------------------------------------------------------
    def _match(
        self, uow: UnitOfWork, ids: Iterable[str], recipients: Iterable[str], team_id: str | None
    ) -> list[SentEmail]:
        """The sends this message may be about, the likeliest first: by Message-ID in the order given, then by
        a VERP address whose signature holds."""
        ids = tuple(ids)
        found = uow.inbound_mail.sent(ids, team_id) if ids else []
        by_id = {s.delivery.provider_message_id: s for s in found}
        matched = [by_id[i] for i in ids if i in by_id]
        if self._bounces is not None:
            verp = self._bounces.delivery_in(recipients)
            if verp is not None:
                sent = uow.inbound_mail.sent_delivery(verp[0])
                if (
                    sent is not None
                    and (team_id is None or sent.team_id == team_id)
                    and self._bounces.valid(sent.team_id, verp[0], verp[1])
                    and sent not in matched
                ):
                    matched.append(sent)
        return matched

    # -- bounces -------------------------------------------------------------------------------------------
    def _bounce(self, mail: InboundMail, mail_id: str, team_id: str | None) -> MailOutcome:
        failed = [r for r in mail.dsn if r.hard or r.soft]
        if not failed:
            return MailOutcome(Outcome.IGNORED, mail_id, ignored=Ignored.NO_FAILURE)
        with self._uow() as uow:
            candidates = self._match(uow, (*mail.original_ids, *mail.references), mail.recipients, team_id)
        for sent in candidates:
            report = _about(failed, sent.email)
            if report is not None:
                return self._record_bounce(sent, report, mail_id)
        reason = Ignored.NOT_OUR_RECIPIENT if candidates else Ignored.UNMATCHED
        return MailOutcome(Outcome.IGNORED, mail_id, ignored=reason)

    def _record_bounce(self, sent: SentEmail, report: DsnRecipient, mail_id: str) -> MailOutcome:
        team, now, hard = sent.team_id, self._clock.now(), report.hard
        detail = " ".join(p for p in (report.status, report.diagnostic) if p)[:1000] or report.action
        delivery_id = sent.delivery.id
        assert delivery_id is not None
        base = MailOutcome(Outcome.BOUNCE, mail_id, team, delivery_id=delivery_id, hard=hard, detail=detail)
        with self._uow() as uow:
            if not uow.inbound_mail.first_time(team, mail_id, now):
                return dataclasses.replace(base, duplicate=True)
            current = uow.inbound_mail.sent_delivery(delivery_id)
            delivery = (current or sent).delivery
            if delivery.status is DeliveryStatus.FAILED:  # the hard bounce is recorded already
                uow.commit()  # this report is handled: not again
                return dataclasses.replace(base, outcome=Outcome.IGNORED, ignored=Ignored.ALREADY_BOUNCED)
            if hard:
                uow.suppressions.add(team, sent.email, "bounced", detail)
                changed = dataclasses.replace(
                    delivery, status=DeliveryStatus.FAILED, last_error=f"bounced: {detail}"
                )
            else:
                changed = dataclasses.replace(delivery, last_error=f"delayed: {detail}")
            uow.deliveries.save(team, changed)
            action = "delivery.bounced" if hard else "delivery.delayed"
            uow.audit.record(
                AuditEvent(
                    team, "", action, now, draft_id=delivery.draft_id, mpid=delivery.mpid, detail=detail
                )
            )
            thread = uow.threads.for_partner(team, delivery.mpid)
            uow.commit()
        email_thread = next((t.id for t in thread if t.channel is Channel.EMAIL), None)
        self._events.publish(
            ConversationEvent(
                team,
                delivery.mpid,
                sent.author_id,
                EventKind.BOUNCE,
                Channel.EMAIL,
                now,
                text=report.diagnostic,
                thread_id=email_thread,
                draft_id=delivery.draft_id,
                detail=detail,
            )
        )
        return dataclasses.replace(base, thread_id=email_thread)

    # -- replies -------------------------------------------------------------------------------------------
    def _reply(self, mail: InboundMail, mail_id: str, sent: SentEmail) -> MailOutcome:
        team, delivery = sent.team_id, sent.delivery
        with self._uow() as uow:
            earlier = uow.threads.by_external_id(team, mail_id)
        if earlier is not None:
            return _stored(team, mail_id, delivery.id, earlier[0].id, earlier[1], duplicate=True)
        # Scanning talks to clamd: done outside any transaction.
        check = check_attachments(
            [(f.name, f.data) for f in mail.files], self._sniffer, self._scanner, self._policy, self._cache
        )
        now = self._clock.now()
        try:
            with self._uow() as uow:
                thread = uow.threads.open(team, delivery.mpid, Channel.EMAIL, sent.subject)
                assert thread.id is not None
                files = tuple(
                    received_file(uow.attachments.add(team, stored_form(f, v)), v)
                    for f, v in zip(mail.files, check.files, strict=True)
                )
                message = uow.threads.add_message(
                    team,
                    thread.id,
                    ThreadMessage(
                        Direction.IN,
                        mail.text,
                        author_id=mail.from_address[:320],
                        provider_message_id=mail.message_id[:255],
                        delivery_id=delivery.id,
                        at=now,
                        external_id=mail_id,
                        files=files,
                    ),
                )
                uow.commit()
        except AlreadyExists:  # the same mail, stored by a concurrent delivery of it in the meantime
            with self._uow() as uow:
                stored = uow.threads.by_external_id(team, mail_id)
            assert stored is not None
            return _stored(team, mail_id, delivery.id, stored[0].id, stored[1], duplicate=True)
        self._events.publish(
            ConversationEvent(
                team,
                delivery.mpid,
                sent.author_id,
                EventKind.REPLY,
                Channel.EMAIL,
                now,
                text=mail.text,
                thread_id=thread.id,
                draft_id=delivery.draft_id,
                files=tuple(f.attachment for f in message.files if not f.quarantined),
                held=tuple((f.attachment.filename, held_reason(f)) for f in message.files if f.quarantined),
            )
        )
        return _stored(team, mail_id, delivery.id, thread.id, message)


def mail_id_of(mail: InboundMail, raw: bytes, idempotency_key: str = "") -> str:
    """What makes a message once: its Message-ID, else the sender's idempotency key, else its bytes' hash."""
    if mail.message_id:
        return mail.message_id[:255]
    if idempotency_key:
        return f"key:{idempotency_key[:KEY_MAX]}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _about(failed: list[DsnRecipient], email: str) -> DsnRecipient | None:
    """The failed recipient block about ``email`` (the hard one first), if any."""
    address = email.strip().lower()
    about = [r for r in failed if address and address in r.addresses()]
    about.sort(key=lambda r: not r.hard)
    return about[0] if about else None


def _stored(
    team: str,
    mail_id: str,
    delivery_id: int | None,
    thread_id: int | None,
    message: ThreadMessage,
    *,
    duplicate: bool = False,
) -> MailOutcome:
    return MailOutcome(
        Outcome.REPLY,
        mail_id,
        team,
        duplicate=duplicate,
        delivery_id=delivery_id,
        thread_id=thread_id,
        message_id=message.id,
        kept=tuple(f.attachment.filename for f in message.files if not f.quarantined),
        quarantined=tuple((f.attachment.filename, f.quarantine) for f in message.files if f.quarantined),
    )
