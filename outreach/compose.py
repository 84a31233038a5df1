"""Composing: drafts, their checks, attachments, preview, and turning a draft into a stored send plan.

Nothing typed is ever lost: every submit first saves the fields to the draft, then checks them. A send is a
plan stored in one transaction — one delivery row per recipient, the draft moved to SENDING — and a second
submit of the same draft (Slack delivering it twice, a double click) finds it no longer a draft and changes
nothing. Drafts belong to their author: another user's (or workspace's) draft id is NotFound.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
from collections.abc import Callable, Collection, Generator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.attachments import (
    AttachmentCheck,
    AttachmentPolicy,
    ScanCache,
    check_attachments,
    recheck_for_send,
)
from outreach.errors import (
    DeliveryFailed,
    DraftNotEditable,
    NotFound,
    Problem,
    ValidationFailed,
)
from outreach.followups import followup_problems, steps_of
from outreach.layouts import Layouts
from outreach.models import (
    Attachment,
    AuditEvent,
    Channel,
    Delivery,
    DeliveryStatus,
    Draft,
    DraftStatus,
    FollowUp,
    OutgoingEmail,
    OutgoingMessage,
    Partner,
    Recipient,
)
from outreach.ports import Clock, Mailer, Scanner, Sniffer, UnitOfWork
from outreach.recent_contact import recent_window
from outreach.rendering import TrackingConfig, email_for, message_for, prepare
from outreach.scheduling import local_due, send_at_problems, start_at, zone
from outreach.tokens import MissingValues, Template, check
from outreach.validation import check_email_address, check_headers

SKIP_NO_EMAIL = "compose.skip.no_email"
SKIP_NO_MESSAGING = "compose.skip.no_messaging"
SKIP_SUPPRESSED = "compose.skip.suppressed"
CONTENT_MAX = 20_000


NO_RECIPIENTS = Problem("recipients", "no_recipients", "There is nobody this can be sent to.")
SHOWN_NAMES = 5  # names in a warning's text


class RecentContacts:
    """Tallies, one recipient at a time, those whose latest contact was by a teammate since ``since``."""

    def __init__(self, since: datetime, author_id: str, days: int) -> None:
        self._since = since
        self._author = author_id
        self._days = days
        self._first: list[Recipient] = []
        self._digest = hashlib.sha256()
        self.count = 0

    def add(self, recipient: Recipient) -> None:
        at, by = recipient.last_contacted_at, recipient.last_contacted_by
        if at is None or at < self._since or not by or by == self._author:
            return
        self.count += 1
        self._digest.update(recipient.mpid.encode() + b"\0")
        if len(self._first) < SHOWN_NAMES:
            self._first.append(recipient)

    def problems(self) -> list[Problem]:
        """One ``recently_contacted`` warning (params: count, days, names of the first five, mpids of those,
        key: a digest of them all), or none."""
        if not self.count:
            return []
        shown = [
            f"{r.contact_name or r.mpname} ({r.mpid}, <@{r.last_contacted_by}> {r.last_contacted_at:%Y-%m-%d})"
            for r in self._first
        ]
        more = self.count - len(shown)
        message = (
            f"{self.count} of these prospects were contacted by a teammate in the last {self._days} days: "
            + ", ".join(shown)
            + (f" and {more} more" if more else "")
        )
        params = (
            ("count", str(self.count)),
            ("days", str(self._days)),
            ("names", "; ".join(shown) + (f"; … +{more}" if more else "")),
            ("mpids", ",".join(r.mpid for r in self._first)),
            ("key", self._digest.hexdigest()[:16]),
        )
        return [Problem("recipients", "recently_contacted", message, params)]


@dataclass(frozen=True, slots=True)
class DraftFields:
    sender_name: str = ""
    reply_to: str = ""
    subject: str = ""
    content: str = ""
    keep_attachment_ids: tuple[int, ...] | None = None  # None: keep every attached file
    followups: tuple[FollowUp, ...] = ()
    send_at: datetime | None = None  # send later: when (None: at once)
    local_zone: str = ""  # send later in each partner's time zone: the author's zone, to read ``send_at`` in


SHOWN = 10  # how many recipients (and skipped ones) a state names; the form shows ten of each


@dataclass(frozen=True)
class ComposeState:
    """A draft with what its recipients come to: counted over all of them (there may be 100,000), named for
    the first ``SHOWN`` only."""

    draft: Draft
    recipients: tuple[Recipient, ...]  # the first of those who will get it
    skipped: tuple[tuple[Recipient, str], ...] = ()  # the first of those who will not, with a reason key
    recipient_count: int = 0
    skipped_count: int = 0
    missing: tuple[Problem, ...] = ()  # recipient tokens of the subject or content empty for some of them
    zoned: int = 0  # how many of those who will get it have a time zone of their own

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
    followups: int = 0  # follow-up steps planned with it


@dataclass(frozen=True, slots=True)
class SchedulePlan:
    """A send checked and kept for later (SCHEDULED)."""

    draft_id: int
    send_at: datetime
    local_zone: str
    recipients: int
    skipped: int
    followups: int = 0


@dataclass(frozen=True)
class SendReport:
    draft: Draft
    rows: tuple[tuple[Delivery, Partner | None], ...]
    counts: dict[DeliveryStatus, int]

    def count(self, status: DeliveryStatus) -> int:
        return self.counts.get(status, 0)


def skip_reason(channel: Channel, recipient: Recipient, suppressed: Collection[str] = ()) -> str:
    """Why this recipient cannot receive on this channel ("" when it can): e-mails need an address that is not
    suppressed (unsubscribed or bounced), messages need messaging enabled."""
    if channel is Channel.EMAIL:
        if not recipient.email:
            return SKIP_NO_EMAIL
        if suppressed and recipient.email.strip().lower() in suppressed:
            return SKIP_SUPPRESSED
    elif not recipient.messaging_enabled:
        return SKIP_NO_MESSAGING
    return ""


def audience(
    uow: UnitOfWork, draft: Draft, contacted_since: datetime | None = None
) -> Generator[tuple[Recipient, str], None, None]:
    """Every recipient of the draft with its skip reason, streamed in the draft's order (with teammates'
    contacts since ``contacted_since``, when given)."""
    assert draft.id is not None
    suppressed: Collection[str] = ()
    if draft.channel is Channel.EMAIL:  # a workspace's list: far fewer than the recipients of a big send
        suppressed = uow.suppressions.emails(draft.team_id)
    stream = uow.drafts.audience(
        draft.team_id, draft.id, contacted_since=contacted_since, author_id=draft.author_id
    )
    try:
        for recipient in stream:
            yield recipient, skip_reason(draft.channel, recipient, suppressed)
    finally:
        stream.close()


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
        recent_contact: timedelta | Callable[[str], timedelta | None] | None = timedelta(days=7),
        personal_mailer: Callable[[str, str], Mailer | None] | None = None,
        workspace_mailer: Callable[[str], Mailer | None] | None = None,
    ) -> None:
        """``recent_contact``: one window for every workspace, or each one's (a function of its team id);
        ``workspace_mailer``: a workspace's own server or From (its settings), None for the deployment's."""
        self._personal_mailer = personal_mailer
        self._workspace_mailer = workspace_mailer
        self._recent_contact = recent_window(recent_contact)
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
            known = uow.partners.known(team_id, mpids)
            ordered = [m for m in dict.fromkeys(mpids) if m in known]
            draft = uow.drafts.add(
                Draft(team_id, author_id, channel, sender_name=sender_name, reply_to=reply_to), ordered
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
            return self._state(uow, draft)

    def load(self, team_id: str, author_id: str, draft_id: int) -> ComposeState:
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
            return self._state(uow, draft)

    def drafts(self, team_id: str, author_id: str) -> list[Draft]:
        """The author's unsent drafts, newest first."""
        with self._uow() as uow:
            return uow.drafts.for_author(team_id, author_id, (DraftStatus.DRAFT,))

    def save(
        self,
        team_id: str,
        author_id: str,
        draft_id: int,
        fields: DraftFields,
        *,
        add: Sequence[Attachment] = (),
    ) -> ComposeState:
        """What was typed, saved. ``add``: stored (already checked) files to attach as well — a template's —
        except those the draft has already (the same bytes); they are checked again when the draft is sent."""
        with self._uow() as uow:
            draft = self._editable(uow, team_id, author_id, draft_id)
            attachments = draft.attachments
            if fields.keep_attachment_ids is not None:
                keep = set(fields.keep_attachment_ids)
                attachments = tuple(a for a in attachments if a.id in keep)
            have = {a.sha256 for a in attachments}
            for extra in add:
                if extra.id is not None and extra.sha256 not in have:
                    attachments += (extra,)
                    have.add(extra.sha256)
            draft = uow.drafts.save(
                dataclasses.replace(
                    draft,
                    sender_name=fields.sender_name,
                    reply_to=fields.reply_to,
                    subject=fields.subject,
                    content=fields.content,
                    attachments=attachments,
                    followups=fields.followups,
                    send_at=fields.send_at,
                    local_zone=fields.local_zone,
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
        with self._uow() as uow:
            adids = {a.adid for a in uow.ads.all(state.draft.team_id)}
        problems = self._draft_problems(state.draft, adids)
        if not state.recipient_count:
            problems.append(NO_RECIPIENTS)
        draft = state.draft
        if draft.send_at is not None or draft.local_zone:
            problems += send_at_problems(draft.send_at, self._clock.now(), local=bool(draft.local_zone))
        return problems

    @staticmethod
    def _draft_problems(draft: Draft, adids: AbstractSet[str]) -> list[Problem]:
        """What the draft's own fields get wrong (its recipients aside)."""
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
        if draft.channel is Channel.EMAIL:
            problems += check(draft.subject, adids, field="subject")
        problems += check(draft.content, adids, field="content")
        problems += followup_problems(draft.followups, draft.channel, adids)
        return problems

    def warnings(self, state: ComposeState) -> list[Problem]:
        """Tokens whose value is empty for some recipients (sending renders them empty), and prospects a
        teammate contacted lately: shown so the user can decide. Worked out in the state's pass."""
        return list(state.missing)

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

    def check_files(
        self, files: Sequence[tuple[str, bytes]], existing: Sequence[tuple[str, bytes]] = ()
    ) -> AttachmentCheck:
        """``files`` checked as :meth:`attach` checks them (``existing``: files they join, which count towards the
        limits); the verdict of each of ``files``. Nothing is stored."""
        result = check_attachments(
            [*existing, *files], self._sniffer, self._scanner, self._policy, self._cache
        )
        return AttachmentCheck(result.files[len(existing) :])

    def files_refused(self, team_id: str, author_id: str, draft_id: int) -> list[Problem]:
        """The draft's files checked again as a send checks them (through the scan cache: a verdict is at most a
        day old); the problems of those refused for good. A file that cannot be scanned right now is not one:
        the workers hold its send back and try again, never sending it unscanned."""
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
        found = recheck_for_send(draft.attachments, self._sniffer, self._scanner, self._policy, self._cache)
        return [p for p in found.problems if p.code != "unscannable"]

    # -- sending ----------------------------------------------------------------------------------------
    def submit(
        self, team_id: str, author_id: str, draft_id: int, *, scheduled: bool = False, at_once: bool = False
    ) -> SendPlan:
        """Store the send plan; raises ValidationFailed (every problem) when something blocks it.

        One pass over the recipients, in the transaction that moves the draft to SENDING: the deliveries of
        100,000 recipients are written without holding them all as objects. Its follow-up steps are stored with
        it (outreach/followups.py). ``scheduled``: the draft is SCHEDULED (its time has come, or the author
        said Send now: ``at_once``); sent in each partner's time zone when it was scheduled so, unless ``at_once``.
        """
        source = DraftStatus.SCHEDULED if scheduled else DraftStatus.DRAFT
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
            # The check and the change in one statement: of two concurrent submits, one plans the send; and
            # from here the draft is ours (its row locked): no save can change it between check and plan.
            if not uow.drafts.set_status(team_id, draft_id, DraftStatus.SENDING, only_from=source):
                return self._already(uow, team_id, draft_id)
            draft = self._own(uow, team_id, author_id, draft_id)  # as it is now, with any save before ours
            problems = self._draft_problems(draft, {a.adid for a in uow.ads.all(team_id)})
            problems += [
                Problem("attachments", "not_scanned", f"{a.filename}: it has not been scanned clean.")
                for a in draft.attachments
                if a.verdict is None or not a.verdict.clean
            ]
            if problems:
                raise ValidationFailed(problems)  # leaving without commit: still a draft
            skipped: dict[str, list[str]] = {}
            zones: set[str] = set()
            for recipient, reason in audience(uow, draft):
                if reason:
                    skipped.setdefault(reason, []).append(recipient.mpid)
                elif recipient.timezone:
                    zones.add(recipient.timezone)
            skipped_count = sum(len(m) for m in skipped.values())
            pending = uow.deliveries.plan(team_id, draft_id, skipped)
            if not pending:
                raise ValidationFailed([NO_RECIPIENTS])  # leaving without commit: still a draft, no plan
            if scheduled and not at_once and draft.local_zone and draft.send_at is not None:
                self._in_their_zones(uow, draft, zones)
            steps = steps_of(draft)
            for step in steps:
                uow.drafts.add(step, ())
            uow.audit.record(
                AuditEvent(
                    team_id,
                    author_id,
                    "draft.submitted",
                    self._clock.now(),
                    draft_id=draft_id,
                    detail=f"{pending} recipients, {skipped_count} skipped"
                    + (f", {len(steps)} follow-up(s)" if steps else "")
                    + (" (scheduled)" if scheduled else ""),
                )
            )
            uow.commit()
        return SendPlan(draft_id, pending, skipped_count, followups=len(steps))

    def _in_their_zones(self, uow: UnitOfWork, draft: Draft, zones: set[str]) -> None:
        """Each partner's delivery due at the scheduled time of day in their own zone (outreach/scheduling.py)."""
        assert draft.id is not None and draft.send_at is not None
        now = self._clock.now()
        due = {z: local_due(draft.send_at, draft.local_zone, z, now) for z in zones if zone(z) is not None}
        other = local_due(draft.send_at, draft.local_zone, "", now)
        uow.deliveries.delay(draft.team_id, draft.id, due, other)

    def schedule(self, team_id: str, author_id: str, draft_id: int) -> SchedulePlan:
        """Check the draft as Send does, then keep it for its ``send_at`` (SCHEDULED): raises ValidationFailed
        with every problem, DraftNotEditable when it is no longer a draft."""
        with self._uow() as uow:
            draft = self._editable(uow, team_id, author_id, draft_id)
            problems = self._draft_problems(draft, {a.adid for a in uow.ads.all(team_id)})
            problems += [
                Problem("attachments", "not_scanned", f"{a.filename}: it has not been scanned clean.")
                for a in draft.attachments
                if a.verdict is None or not a.verdict.clean
            ]
            problems += send_at_problems(draft.send_at, self._clock.now(), local=True)
            pending = skipped = 0
            for _, reason in audience(uow, draft):
                skipped += bool(reason)
                pending += not reason
            if not pending:
                problems.append(NO_RECIPIENTS)
            if problems:
                raise ValidationFailed(problems)
            assert draft.send_at is not None
            if not uow.drafts.schedule(team_id, draft_id, start_at(draft.send_at, draft.local_zone)):
                raise DraftNotEditable(draft_id, draft.status)
            uow.audit.record(
                AuditEvent(
                    team_id,
                    author_id,
                    "draft.scheduled",
                    self._clock.now(),
                    draft_id=draft_id,
                    detail=f"{draft.send_at.isoformat()}"
                    + (f" in each partner's time zone ({draft.local_zone})" if draft.local_zone else ""),
                )
            )
            uow.commit()
        return SchedulePlan(draft_id, draft.send_at, draft.local_zone, pending, skipped, len(draft.followups))

    @staticmethod
    def _already(uow: UnitOfWork, team_id: str, draft_id: int) -> SendPlan:
        counts = uow.queue.counts(team_id, draft_id)
        skipped = counts.get(DeliveryStatus.SKIPPED, 0)
        return SendPlan(draft_id, sum(counts.values()) - skipped, skipped, already_submitted=True)

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
            (self._personal_mailer(team_id, author_id) if self._personal_mailer else None)
            or (self._workspace_mailer(team_id) if self._workspace_mailer else None)
            or self._mailer
        )
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

    def first_recipients(self, team_id: str, author_id: str, draft_id: int, limit: int) -> list[Recipient]:
        """The draft's first ``limit`` recipients (those it will skip too), in its order: a preview's choices."""
        with self._uow() as uow:
            self._own(uow, team_id, author_id, draft_id)  # the author's own draft only
            with contextlib.closing(uow.drafts.audience(team_id, draft_id)) as stream:
                return list(itertools.islice(stream, limit))

    def preview(
        self, team_id: str, author_id: str, draft_id: int, mpid: str | None = None
    ) -> OutgoingEmail | OutgoingMessage:
        """The message as ``mpid`` (by default the first recipient) would get it, rendered now."""
        with self._uow() as uow:
            draft = self._own(uow, team_id, author_id, draft_id)
            chosen = mpid if mpid and uow.drafts.has_recipient(team_id, draft_id, mpid) else None
            if chosen is None:  # the first who will get it
                with contextlib.closing(audience(uow, draft)) as stream:
                    chosen = next((r.mpid for r, why in stream if not why), None)
            partner = uow.partners.get(team_id, chosen) if chosen else None
            if partner is None:
                raise NotFound("recipient", mpid or "")
            ads = {a.adid: a for a in uow.ads.all(team_id)}
        prepared = prepare(draft, ads, self._tracking, self._clock.now())
        if draft.channel is Channel.MESSAGE:
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
        """The author's draft, locked for this transaction, while it is still a draft (not being sent)."""
        draft = uow.drafts.get(team_id, draft_id, for_update=True)
        if draft is None or draft.author_id != author_id:
            raise NotFound("draft", str(draft_id))
        if draft.status is not DraftStatus.DRAFT:
            raise DraftNotEditable(draft_id, draft.status)
        return draft

    def _state(self, uow: UnitOfWork, draft: Draft) -> ComposeState:
        """One pass over the draft's recipients: counts, the first few named, empty token values, and
        teammates' recent contacts."""
        tallies = [MissingValues(Template.parse(draft.content))]
        if draft.channel is Channel.EMAIL:
            tallies.append(MissingValues(Template.parse(draft.subject), field="subject"))
        for n, step in enumerate(draft.followups, 1):
            tallies.append(MissingValues(Template.parse(step.content), field=f"followup.{n}.content"))
        contacts = since = None
        window = self._recent_contact(draft.team_id)
        if window is not None:
            since = self._clock.now() - window
            contacts = RecentContacts(since, draft.author_id, window.days)
        shown: list[Recipient] = []
        skipped: list[tuple[Recipient, str]] = []
        count = skipped_count = zoned = 0
        for recipient, reason in audience(uow, draft, since):
            if reason:
                skipped_count += 1
                if len(skipped) < SHOWN:
                    skipped.append((recipient, reason))
                continue
            count += 1
            zoned += bool(recipient.timezone)
            if len(shown) < SHOWN:
                shown.append(recipient)
            for tally in tallies:
                tally.add(recipient)
            if contacts is not None:
                contacts.add(recipient)
        missing = [p for tally in tallies for p in tally.problems()]
        if contacts is not None:
            missing += contacts.problems()
        return ComposeState(draft, tuple(shown), tuple(skipped), count, skipped_count, tuple(missing), zoned)
