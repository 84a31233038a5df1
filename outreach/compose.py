"""Composing: drafts, their checks, attachments, preview, and turning a draft into a stored send plan.

Nothing typed is ever lost: every submit first saves the fields to the draft, then checks them. A send is a
plan stored in one transaction — one delivery row per recipient, the draft moved to SENDING — and a second
submit of the same draft (Slack delivering it twice, a double click) finds it no longer a draft and changes
nothing. Drafts belong to their author: another user's (or workspace's) draft id is NotFound.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from outreach.attachments import AttachmentCheck, AttachmentPolicy, ScanCache, check_attachments
from outreach.errors import DeliveryFailed, NotFound, OutreachError, Problem, ValidationFailed
from outreach.layouts import Layouts
from outreach.models import (
    AuditEvent,
    Channel,
    Delivery,
    DeliveryStatus,
    Draft,
    DraftStatus,
    OutgoingEmail,
    OutgoingMessage,
    Partner,
    Recipient,
)
from outreach.ports import Clock, Mailer, Scanner, Sniffer, UnitOfWork
from outreach.rendering import TrackingConfig, email_for, message_for, prepare
from outreach.tokens import Template, check, missing_values
from outreach.validation import check_email_address, check_headers

SKIP_NO_EMAIL = "compose.skip.no_email"
SKIP_NO_MESSAGING = "compose.skip.no_messaging"
SKIP_UNKNOWN = "compose.skip.unknown"
SKIP_SUPPRESSED = "compose.skip.suppressed"
CONTENT_MAX = 20_000


class DraftNotEditable(OutreachError):
    """The draft is being sent or was sent: it can no longer change."""

    def __init__(self, draft_id: int, status: DraftStatus) -> None:
        self.draft_id = draft_id
        self.status = status
        super().__init__(f"draft {draft_id} is {status.value} and can no longer change")


@dataclass(frozen=True, slots=True)
class DraftFields:
    sender_name: str = ""
    reply_to: str = ""
    subject: str = ""
    content: str = ""
    keep_attachment_ids: tuple[int, ...] | None = None  # None: keep every attached file


@dataclass(frozen=True)
class ComposeState:
    draft: Draft
    recipients: tuple[Partner, ...]  # who will get it
    skipped: tuple[tuple[Partner, str], ...] = ()  # who will not, with a reason key

    @property
    def draft_id(self) -> int:
        assert self.draft.id is not None
        return self.draft.id


@dataclass(frozen=True, slots=True)
class SendPlan:
    draft_id: int
    recipients: int
    skipped: int
    already_submitted: bool = False


@dataclass(frozen=True)
class SendReport:
    draft: Draft
    rows: tuple[tuple[Delivery, Partner | None], ...]
    counts: dict[DeliveryStatus, int]

    def count(self, status: DeliveryStatus) -> int:
        return self.counts.get(status, 0)


def eligible(
    channel: Channel, partners: Sequence[Partner], suppressed: Collection[str] = ()
) -> tuple[list[Partner], list[tuple[Partner, str]]]:
    """Who can receive on this channel: an e-mail address that is not suppressed (unsubscribed or bounced) for
    e-mails, messaging enabled for messages."""
    ok: list[Partner] = []
    skipped: list[tuple[Partner, str]] = []
    for p in partners:
        if channel is Channel.EMAIL and not p.email:
            skipped.append((p, SKIP_NO_EMAIL))
        elif channel is Channel.EMAIL and p.email.strip().lower() in suppressed:
            skipped.append((p, SKIP_SUPPRESSED))
        elif channel is Channel.MESSAGE and not p.messaging_enabled:
            skipped.append((p, SKIP_NO_MESSAGING))
        else:
            ok.append(p)
    return ok, skipped


class ComposeService:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        sniffer: Sniffer,
        scanner: Scanner,
        scan_cache: ScanCache,
        policy: AttachmentPolicy,
        tracking: TrackingConfig,
        layouts: Layouts,
        mailer: Mailer | None = None,
        recent_contact: timedelta | None = timedelta(days=7),
        personal_mailer: Callable[[str, str], Mailer | None] | None = None,
    ) -> None:
        self._personal_mailer = personal_mailer
        self._recent_contact = recent_contact
        self._mailer = mailer
        self._uow = uow
        self._clock = clock
        self._sniffer = sniffer
        self._scanner = scanner
        self._cache = scan_cache
        self._policy = policy
        self._tracking = tracking
        self._layouts = layouts

    # -- drafts -------------------------------------------------------------------------------------------
    def start(
        self,
        team_id: str,
        author_id: str,
        channel: Channel,
        mpids: Sequence[str],
        *,
        sender_name: str = "",
        reply_to: str = "",
    ) -> ComposeState:
        """A new draft to these partners of the workspace (unknown mpids are dropped)."""
        with self._uow() as uow:
            found = uow.partners.get_many(team_id, mpids)
            ordered = [found[m] for m in dict.fromkeys(mpids) if m in found]
            draft = uow.drafts.add(
                Draft(
                    team_id,
                    author_id,
                    channel,
                    tuple(p.mpid for p in ordered),
                    sender_name=sender_name,
                    reply_to=reply_to,
                )
            )
            uow.audit.record(
                AuditEvent(
                    team_id,
                    author_id,
                    "draft.created",
                    self._clock.now(),
                    draft_id=draft.id,
                    detail=f"{channel.value}, {len(ordered)} recipients",
                )
            )
            uow.commit()
            return self._state(uow, draft, ordered)

    def load(self, team_id: str, author_id: str, draft_id: int) -> ComposeState:
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
            return self._state(uow, draft)

    def drafts(self, team_id: str, author_id: str) -> list[Draft]:
        """The author's unsent drafts, newest first."""
        with self._uow() as uow:
            return uow.drafts.for_author(team_id, author_id, (DraftStatus.DRAFT,))

    def save(self, team_id: str, author_id: str, draft_id: int, fields: DraftFields) -> ComposeState:
        with self._uow() as uow:
            draft = self._editable(uow, team_id, author_id, draft_id)
            attachments = draft.attachments
            if fields.keep_attachment_ids is not None:
                keep = set(fields.keep_attachment_ids)
                attachments = tuple(a for a in attachments if a.id in keep)
            draft = uow.drafts.save(
                dataclasses.replace(
                    draft,
                    sender_name=fields.sender_name,
                    reply_to=fields.reply_to,
                    subject=fields.subject,
                    content=fields.content,
                    attachments=attachments,
                )
            )
            uow.commit()
            return self._state(uow, draft)

    def delete(self, team_id: str, author_id: str, draft_id: int) -> None:
        with self._uow() as uow:
            self._editable(uow, team_id, author_id, draft_id)
            uow.drafts.delete(team_id, draft_id)
            uow.audit.record(
                AuditEvent(team_id, author_id, "draft.deleted", self._clock.now(), draft_id=draft_id)
            )
            uow.commit()

    # -- checks -------------------------------------------------------------------------------------------
    def check(self, state: ComposeState) -> list[Problem]:
        """Every problem that blocks sending, at once (fast: no files are read)."""
        draft = state.draft
        problems: list[Problem] = []
        if draft.channel is Channel.EMAIL:
            problems += check_headers(draft.sender_name, draft.reply_to, draft.subject)
        if not draft.content.strip():
            problems.append(Problem("content", "required", "Write the content of your message."))
        elif len(draft.content) > CONTENT_MAX:
            problems.append(
                Problem(
                    "content",
                    "too_long",
                    f"The content is longer than {CONTENT_MAX} characters.",
                    (("limit", str(CONTENT_MAX)),),
                )
            )
        with self._uow() as uow:
            adids = {a.adid for a in uow.ads.all(draft.team_id)}
        if draft.channel is Channel.EMAIL:
            problems += check(draft.subject, adids, field="subject")
        problems += check(draft.content, adids, field="content")
        if not state.recipients:
            problems.append(Problem("recipients", "no_recipients", "There is nobody this can be sent to."))
        return problems

    def warnings(self, state: ComposeState) -> list[Problem]:
        """Tokens whose value is empty for some recipients: shown so the user can decide; sending renders them empty."""
        recipients = [Recipient.of(p) for p in state.recipients]
        found = missing_values(Template.parse(state.draft.content), recipients)
        if state.draft.channel is Channel.EMAIL:
            found += missing_values(Template.parse(state.draft.subject), recipients, field="subject")
        if self._recent_contact is not None and state.recipients:
            found += self._recently_contacted(state)
        return found

    def _recently_contacted(self, state: ComposeState) -> list[Problem]:
        """Prospects a teammate contacted lately: a warning, so two people do not write to the same partner."""
        assert self._recent_contact is not None
        since = self._clock.now() - self._recent_contact
        draft = state.draft
        with self._uow() as uow:
            recent = uow.queue.recent_sends(
                draft.team_id, [p.mpid for p in state.recipients], since, draft.author_id
            )
        if not recent:
            return []
        names = {p.mpid: p.contact_name or p.name for p in state.recipients}
        shown = [
            f"{names[m]} ({m}, <@{author}> {when:%Y-%m-%d})" for m, (author, when) in sorted(recent.items())
        ]
        days = self._recent_contact.days
        message = (
            f"{len(recent)} of these prospects were contacted by a teammate in the last {days} days: "
            + ", ".join(shown[:5])
            + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
        )
        params = (
            ("count", str(len(recent))),
            ("days", str(days)),
            ("names", "; ".join(shown)),
            ("mpids", ",".join(sorted(recent))),
        )
        return [Problem("recipients", "recently_contacted", message, params)]

    # -- attachments ----------------------------------------------------------------------------------
    def attach(
        self, team_id: str, author_id: str, draft_id: int, files: Sequence[tuple[str, bytes]]
    ) -> AttachmentCheck:
        """Check (type, size, structure, virus scan) and attach the good files; the verdict of each is returned.

        Files already on the draft count towards the limits. Nothing is raised for bad files.
        """
        with self._uow() as uow:
            draft = self._editable(uow, team_id, author_id, draft_id)
        existing = [(a.filename, a.data) for a in draft.attachments]
        result = check_attachments(
            [*existing, *files], self._sniffer, self._scanner, self._policy, self._cache
        )
        fresh = AttachmentCheck(result.files[len(existing) :])
        if not fresh.accepted:
            return fresh
        with self._uow() as uow:
            draft = self._editable(uow, team_id, author_id, draft_id)
            stored = [uow.attachments.add(team_id, a) for a in fresh.accepted]
            uow.drafts.save(dataclasses.replace(draft, attachments=(*draft.attachments, *stored)))
            uow.commit()
        return fresh

    # -- sending ----------------------------------------------------------------------------------------
    def submit(self, team_id: str, author_id: str, draft_id: int) -> SendPlan:
        """Store the send plan; raises ValidationFailed (every problem) when something blocks it."""
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
            if draft.status is not DraftStatus.DRAFT:
                deliveries = uow.deliveries.for_draft(team_id, draft_id)
                skipped = sum(d.status is DeliveryStatus.SKIPPED for d in deliveries)
                return SendPlan(draft_id, len(deliveries) - skipped, skipped, already_submitted=True)
            state = self._state(uow, draft)
        problems = self.check(state)
        unclean = [a for a in state.draft.attachments if a.verdict is None or not a.verdict.clean]
        problems += [
            Problem("attachments", "not_scanned", f"{a.filename}: it has not been scanned clean.")
            for a in unclean
        ]
        if problems:
            raise ValidationFailed(problems)
        now = self._clock.now()
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
            if draft.status is not DraftStatus.DRAFT:  # another submit won the race
                return SendPlan(draft_id, len(state.recipients), len(state.skipped), already_submitted=True)
            uow.deliveries.add_many(team_id, draft_id, [p.mpid for p in state.recipients])
            for partner, reason in state.skipped:
                uow.deliveries.add(
                    team_id, Delivery(draft_id, partner.mpid, DeliveryStatus.SKIPPED, last_error=reason)
                )
            uow.drafts.set_status(team_id, draft_id, DraftStatus.SENDING)
            uow.audit.record(
                AuditEvent(
                    team_id,
                    author_id,
                    "draft.submitted",
                    now,
                    draft_id=draft_id,
                    detail=f"{len(state.recipients)} recipients, {len(state.skipped)} skipped",
                )
            )
            uow.commit()
        return SendPlan(draft_id, len(state.recipients), len(state.skipped))

    def report(self, team_id: str, author_id: str, draft_id: int, *, unsent_only: bool = False) -> SendReport:
        """Where a send stands: every recipient with its delivery (``unsent_only``: those not sent, with the
        counts of all in ``SendReport.counts`` — a 100,000-recipient summary reads only its exceptions)."""
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
            deliveries = uow.deliveries.for_draft(team_id, draft_id, unsent_only=unsent_only)
            partners = uow.partners.get_many(team_id, [d.mpid for d in deliveries])
            counts = uow.queue.counts(team_id, draft_id)
        return SendReport(draft, tuple((d, partners.get(d.mpid)) for d in deliveries), counts)

    def draft(self, team_id: str, author_id: str, draft_id: int) -> Draft:
        """The author's draft alone (no recipients loaded)."""
        with self._uow() as uow:
            return self._own(uow, team_id, author_id, draft_id)

    def retry_failed(self, team_id: str, author_id: str, draft_id: int) -> int:
        """Send again to the recipients whose delivery failed (the author's call: see outreach.delivery)."""
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
            count = uow.queue.requeue_failed(team_id, draft_id)
            if count:
                uow.drafts.set_status(team_id, draft_id, DraftStatus.SENDING)
                uow.audit.record(
                    AuditEvent(
                        team_id,
                        author_id,
                        "draft.retry_failed",
                        self._clock.now(),
                        draft_id=draft.id,
                        detail=f"{count} recipients",
                    )
                )
            uow.commit()
        return count

    def send_test(self, team_id: str, author_id: str, draft_id: int, address: str) -> str:
        """E-mail the draft, rendered for its first recipient, to the author's own address only."""
        if self._mailer is None:
            raise DeliveryFailed("e-mail is not configured", permanent=True)
        to = check_email_address(address)
        if to is None:
            raise ValidationFailed(
                [Problem("reply_to", "no_own_address", "We do not know your e-mail address.")]
            )
        rendered = self.preview(team_id, author_id, draft_id)
        if not isinstance(rendered, OutgoingEmail):
            raise ValidationFailed([Problem("content", "not_email", "Only e-mails can be sent as a test.")])
        mailer = (
            self._personal_mailer(team_id, author_id) if self._personal_mailer else None
        ) or self._mailer
        with mailer.open() as session:
            provider_id = session.send(
                dataclasses.replace(rendered, to=to, subject="[TEST] " + rendered.subject)
            )
        with self._uow() as uow:
            uow.audit.record(
                AuditEvent(
                    team_id, author_id, "email.test_sent", self._clock.now(), draft_id=draft_id, detail=to
                )
            )
            uow.commit()
        return provider_id

    def preview(
        self, team_id: str, author_id: str, draft_id: int, mpid: str | None = None
    ) -> OutgoingEmail | OutgoingMessage:
        """The message as ``mpid`` (by default the first recipient) would get it, rendered now."""
        state = self.load(team_id, author_id, draft_id)
        pool = {p.mpid: p for p in (*state.recipients, *(p for p, _ in state.skipped))}
        partner = pool.get(mpid or "") or (state.recipients[0] if state.recipients else None)
        if partner is None:
            raise NotFound("recipient", mpid or "")
        with self._uow() as uow:
            ads = {a.adid: a for a in uow.ads.all(team_id)}
        prepared = prepare(state.draft, ads, self._tracking, self._clock.now())
        if state.draft.channel is Channel.MESSAGE:
            return message_for(prepared, partner)
        return email_for(prepared, partner, self._layouts)

    # -- helpers ----------------------------------------------------------------------------------------
    @staticmethod
    def _own(uow: UnitOfWork, team_id: str, author_id: str, draft_id: int) -> Draft:
        draft = uow.drafts.get(team_id, draft_id)
        if draft is None or draft.author_id != author_id:
            raise NotFound("draft", str(draft_id))
        return draft

    def _editable(self, uow: UnitOfWork, team_id: str, author_id: str, draft_id: int) -> Draft:
        draft = self._own(uow, team_id, author_id, draft_id)
        if draft.status is not DraftStatus.DRAFT:
            raise DraftNotEditable(draft_id, draft.status)
        return draft

    @staticmethod
    def _state(uow: UnitOfWork, draft: Draft, partners: Sequence[Partner] | None = None) -> ComposeState:
        if partners is None:
            found = uow.partners.get_many(draft.team_id, draft.recipients)
            partners = [found[m] for m in draft.recipients if m in found]
        suppressed: Collection[str] = ()
        if draft.channel is Channel.EMAIL:
            suppressed = uow.suppressions.among(draft.team_id, [p.email for p in partners if p.email])
        ok, skipped = eligible(draft.channel, partners, suppressed)
        return ComposeState(draft, tuple(ok), tuple(skipped))
