"""What a claimed batch reads, once, and what each of its deliveries turns into before anything is sent.

The rules:

* A batch's recipients are read in one query per workspace when it is claimed. A partner gone since is a
  permanent refusal ("the recipient is no longer in this workspace"), as is an e-mail to a partner without
  an address or a message to one who does not accept messages.
* A draft being sent can no longer change, so a worker reads it once per send (:class:`SendingDrafts`), not
  once per batch; its ads and the time are read per batch. A draft that no longer exists is a permanent
  refusal of its deliveries.
* Before a draft's first message of a batch leaves, its attachments are checked again (type, structure,
  scan — through the scan cache, so each content is scanned once per send, not once per recipient). What
  that finds refuses every one of the draft's deliveries in the batch: for good, or passing when a file
  cannot be scanned right now (retried later, never sent unscanned).
* Addresses that unsubscribed or bounced since the plan was stored are skipped (``compose.skip.suppressed``),
  never e-mailed: one query per batch and workspace, made before the first of its e-mails is built.
* An e-mail reply written in a conversation's Slack thread (:mod:`outreach.conversation_reply`) carries its
  ``In-Reply-To`` and ``References`` headers, read with its draft.
* With bounce addresses (VERP, :mod:`outreach.bounce_address`), each e-mail asks for an envelope sender that
  names its delivery; the workspace's mailer honours it, a user's own mailbox keeps its own address.
* Each e-mail is built into its wire bytes (by the session that will send it) before its group goes in
  flight, so a message that cannot be built never is: a permanent refusal. An e-mail carries the
  unsubscribe headers and footer of its address.
* A follow-up step's delivery is decided when it is claimed — when it falls due (outreach/followups.py): what
  decides it is read once per batch and step (the previous step's deliveries, replies, contacts), and a partner
  who replied, bounced, unsubscribed or was contacted by a teammate since is skipped with that reason. An
  e-mail step answers the previous e-mail (In-Reply-To, References); the text each partner got is kept for the
  conversation's event (``Batch.texts``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from outreach.attachments import AttachmentPolicy, ScanCache, recheck_for_send, send_refusal
from outreach.bounce_address import BounceAddresses
from outreach.compose import SKIP_SUPPRESSED
from outreach.errors import DeliveryFailed, Refusal
from outreach.followups import load_facts, skip_reason, thread_headers
from outreach.layouts import Layouts
from outreach.models import Channel, Claimed, Draft, FollowupFacts, OutgoingMessage, Partner, ReadyMail
from outreach.ports import Clock, MailSession, Scanner, Sniffer, UnitOfWork
from outreach.rendering import PreparedDraft, TrackingConfig, email_for, message_for, prepare
from outreach.unsubscribe import UnsubscribeLinks, one_click_headers

MAX_DRAFTS_KEPT = 16  # drafts a worker keeps while sending them
UNSUBSCRIBE_FOOTER = "You receive this because a brand contacted you about a partnership. Unsubscribe: "

GONE = Refusal("the recipient is no longer in this workspace", permanent=True)
NO_ADDRESS = Refusal("the recipient has no e-mail address", permanent=True)
NO_MESSAGES = Refusal("the recipient does not accept messages", permanent=True)
DRAFT_GONE = Refusal("the draft no longer exists", permanent=True)


@dataclass(frozen=True, slots=True)
class Skip:
    """A delivery not made, for a reason its author is shown (a ``compose.skip.*`` catalog key)."""

    code: str


class SendingDrafts:
    """The drafts a worker is sending, by (workspace, id): read once per send, forgotten when it ends."""

    def __init__(self, limit: int = MAX_DRAFTS_KEPT) -> None:
        self._limit = limit
        self._drafts: dict[tuple[str, int], Draft] = {}

    def get(self, team_id: str, draft_id: int) -> Draft | None:
        return self._drafts.get((team_id, draft_id))

    def remember(self, draft: Draft) -> None:
        assert draft.id is not None
        key = (draft.team_id, draft.id)
        if key not in self._drafts:
            while len(self._drafts) >= self._limit:
                self._drafts.pop(next(iter(self._drafts)))
            self._drafts[key] = draft

    def forget(self, team_id: str, draft_id: int) -> None:
        self._drafts.pop((team_id, draft_id), None)


@dataclass(frozen=True, slots=True)
class Preparation:
    """A worker's means to read a batch and build its messages."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    sniffer: Sniffer
    scanner: Scanner
    scan_cache: ScanCache
    policy: AttachmentPolicy
    tracking: TrackingConfig
    layouts: Layouts
    unsubscribe: UnsubscribeLinks | None
    drafts: SendingDrafts
    bounces: BounceAddresses | None = None  # VERP: each e-mail's envelope sender names its delivery

    def load(self, claimed: list[Claimed]) -> Batch:
        """The batch with every recipient read, in one query per workspace."""
        by_team: dict[str, list[str]] = {}
        for item in claimed:
            by_team.setdefault(item.team_id, []).append(item.delivery.mpid)
        partners: dict[tuple[str, str], Partner] = {}
        with self.uow() as uow:
            for team_id, mpids in by_team.items():
                for mpid, partner in uow.partners.get_many(team_id, mpids).items():
                    partners[(team_id, mpid)] = partner
        return Batch(self, partners, claimed)

    def prepare(self, team_id: str, draft_id: int) -> PreparedDraft | Refusal:
        with self.uow() as uow:
            draft = self.drafts.get(team_id, draft_id) or uow.drafts.get(team_id, draft_id)
            if draft is None:
                return DRAFT_GONE
            ads = {a.adid: a for a in uow.ads.all(team_id)}
            reply = (
                uow.conversation_replies.get(team_id, draft_id) if draft.channel is Channel.EMAIL else None
            )
        self.drafts.remember(draft)
        check = recheck_for_send(draft.attachments, self.sniffer, self.scanner, self.policy, self.scan_cache)
        refusal = send_refusal(check)
        if refusal is not None:
            return refusal
        prepared = prepare(draft, ads, self.tracking, self.clock.now())
        if reply is not None and reply.in_reply_to:
            threading = (("In-Reply-To", reply.in_reply_to), ("References", " ".join(reply.references)))
            prepared = dataclasses.replace(prepared, headers=threading)
        return prepared


class Batch:
    """One claimed batch: its recipients, its drafts prepared (once each), its workspaces' suppressions."""

    def __init__(
        self, preparation: Preparation, partners: dict[tuple[str, str], Partner], claimed: list[Claimed]
    ) -> None:
        self._preparation = preparation
        self._partners = partners
        self._claimed = claimed
        self._drafts: dict[tuple[str, int], PreparedDraft | Refusal] = {}
        self._suppressed: dict[str, dict[str, str]] = {}  # team → {address: reason}
        self._facts: dict[tuple[str, int], dict[str, FollowupFacts]] = {}  # (team, step) → {mpid: facts}
        self.texts: dict[int, str] = {}  # delivery id → the text a follow-up step's e-mail carries

    def draft(self, item: Claimed) -> PreparedDraft | Refusal:
        key = (item.team_id, item.delivery.draft_id)
        if key not in self._drafts:
            self._drafts[key] = self._preparation.prepare(*key)
        return self._drafts[key]

    def channel(self, item: Claimed) -> Channel:
        prepared = self.draft(item)
        return prepared.draft.channel if isinstance(prepared, PreparedDraft) else Channel.EMAIL

    def author(self, item: Claimed) -> str | None:
        prepared = self.draft(item)
        return prepared.draft.author_id if isinstance(prepared, PreparedDraft) else None

    def partner(self, item: Claimed) -> Partner | None:
        return self._partners.get((item.team_id, item.delivery.mpid))

    def email(self, item: Claimed, session: MailSession) -> ReadyMail | Refusal | Skip:
        """The delivery's e-mail as it will go out on ``session``, or why it does not go (no database)."""
        target = self._target(item)
        if isinstance(target, Refusal):
            return target
        prepared, partner = target
        if not partner.email:
            return NO_ADDRESS
        followup = self._followup(item, prepared.draft, partner)
        if isinstance(followup, Skip):
            return followup
        if self._suppression(item.team_id, partner.email):
            return Skip(SKIP_SUPPRESSED)
        headers: tuple[tuple[str, str], ...] = ()
        footer = ""
        links = self._preparation.unsubscribe
        if links is not None:
            url = links.url(item.team_id, partner.email)  # signed once for the header and the footer
            headers = one_click_headers(url)
            footer = UNSUBSCRIBE_FOOTER + url
        if followup is not None:
            headers += thread_headers(followup)
            assert item.delivery.id is not None
            self.texts[item.delivery.id] = message_for(prepared, partner).text
        email = email_for(prepared, partner, self._preparation.layouts, headers, footer)
        bounces = self._preparation.bounces
        if bounces is not None and item.delivery.id is not None:
            email = dataclasses.replace(email, return_path=bounces.address(item.team_id, item.delivery.id))
        try:
            return session.build(email)
        except DeliveryFailed as failure:
            return failure.refusal

    def message(self, item: Claimed) -> OutgoingMessage | Refusal | Skip:
        """The delivery's in-platform message, or why it does not go."""
        target = self._target(item)
        if isinstance(target, Refusal):
            return target
        prepared, partner = target
        if not partner.messaging_enabled:
            return NO_MESSAGES
        followup = self._followup(item, prepared.draft, partner)
        if isinstance(followup, Skip):
            return followup
        return message_for(prepared, partner)

    def _followup(self, item: Claimed, draft: Draft, partner: Partner) -> FollowupFacts | Skip | None:
        """For a follow-up step: what decided it goes to this partner (None for a first message), or why not."""
        if draft.step == 0:
            return None
        assert draft.id is not None
        key = (item.team_id, draft.id)
        if key not in self._facts:
            mpids = [c.delivery.mpid for c in self._claimed if (c.team_id, c.delivery.draft_id) == key]
            with self._preparation.uow() as uow:
                self._facts[key] = load_facts(uow, draft, mpids or [item.delivery.mpid])
        facts = self._facts[key].get(item.delivery.mpid) or FollowupFacts(item.delivery.mpid)
        suppressed = self._suppression(item.team_id, partner.email) if partner.email else ""
        reason = skip_reason(facts, author_id=draft.author_id, channel=draft.channel, suppressed=suppressed)
        return Skip(reason) if reason else facts

    def _target(self, item: Claimed) -> tuple[PreparedDraft, Partner] | Refusal:
        prepared = self.draft(item)
        if isinstance(prepared, Refusal):
            return prepared
        partner = self.partner(item)
        return GONE if partner is None else (prepared, partner)

    def _suppression(self, team_id: str, email: str) -> str:
        """Why ``email`` is on the workspace's suppression list (``bounced``, ``unsubscribed``), or ""."""
        if team_id not in self._suppressed:
            emails = [p.email for (team, _), p in self._partners.items() if team == team_id and p.email]
            with self._preparation.uow() as uow:
                self._suppressed[team_id] = uow.suppressions.among(team_id, emails)
        return self._suppressed[team_id].get(email.strip().lower(), "")
