"""The send pipeline: claim a batch of deliveries, render, send, record each result.

A send is a stored plan (see :mod:`outreach.compose`); workers only move its rows along:
``PENDING → CLAIMED`` (a batch, an attempt counted) ``→ IN_FLIGHT`` (a group of ``in_flight_group`` e-mails,
committed before any of them goes out) ``→ SENT`` or ``FAILED``, or back to ``PENDING`` with a later due time
after a passing failure. One recipient's failure never stops the others. A group's results (its sent rows in
one statement, its partners marked contacted — by whom, when — in another) are committed in the transaction
that puts the next group in flight: one commit a group, not two a message (a commit costs as much as building
a message, and the throughput target is 80% of a bare SMTP loop). The partners of a claimed batch are read in
one query when it is claimed; a draft being sent can no longer change, so a worker reads it once per send, not
once per batch (ads and the time are read per batch); progress is reported at most every
``progress_interval`` seconds per draft (and always when its send ends, by the worker that closes it);
``run_until_idle`` keeps one SMTP connection across batches while they go well. Each e-mail is built into its
wire bytes before its group is committed in flight, so a message that cannot be built never is.

The window between "in flight" and "recorded": a worker killed there leaves its group IN_FLIGHT, and nobody
can know which of those messages left. We resolve it **at most once**: once the claim lease has passed, those
rows are marked FAILED ("interrupted while sending") and never retried by themselves, because a partner
receiving the same e-mail twice is worse for the author than a few missing e-mails that the summary names and
that "Retry failed" sends again on the author's say-so. The rest of the dead worker's batch (CLAIMED, never
attempted) goes back to the queue. The window is one group long (``in_flight_group=1``: the one message being
sent). In-platform messages go one at a time.

Attachments are checked again (type, structure, scan — through the scan cache, so each content is scanned once
per send, not once per recipient) before a draft's first message leaves: scanning is in and out. Anything that
cannot be scanned now is a passing failure, retried later, never sent unscanned.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from outreach.attachments import AttachmentPolicy, ScanCache, recheck_for_send
from outreach.compose import SKIP_SUPPRESSED
from outreach.errors import DeliveryFailed
from outreach.layouts import Layouts
from outreach.models import (
    AuditEvent,
    Channel,
    Claimed,
    Delivery,
    DeliveryStatus,
    Direction,
    Draft,
    DraftStatus,
    Partner,
    ReadyMail,
    ThreadMessage,
)
from outreach.ports import Clock, Mailer, MailSession, MessageTransport, Scanner, Sniffer, UnitOfWork
from outreach.rendering import PreparedDraft, TrackingConfig, email_for, message_for, prepare
from outreach.unsubscribe import UnsubscribeLinks

log = logging.getLogger(__name__)

MAX_DRAFTS_KEPT = 16  # drafts a worker keeps while sending them
UNSUBSCRIBE_FOOTER = "You receive this because a brand contacted you about a partnership. Unsubscribe: "
INTERRUPTED = "interrupted while sending: it may or may not have left, so it is not sent again by itself"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        return min(self.base_delay * (1 << max(0, attempts - 1)), self.max_delay)


class Throttle:
    """At most ``per_second`` sends per sending account (a mailer or transport); shared by a worker's threads."""

    def __init__(
        self,
        per_second: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._sleep = sleep
        self._monotonic = monotonic

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)


@dataclass(frozen=True, slots=True)
class Progress:
    team_id: str
    draft_id: int
    author_id: str
    counts: dict[DeliveryStatus, int]
    finished: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def counts_sent(self) -> int:
        return self.counts[DeliveryStatus.SENT]

    @property
    def counts_failed(self) -> int:
        return self.counts[DeliveryStatus.FAILED]

    @property
    def done(self) -> int:
        busy = (DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.IN_FLIGHT)
        return self.total - sum(self.counts[s] for s in busy)


ProgressListener = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What came of one delivery, until it is recorded: ``sent`` (the provider's id), ``skipped`` (why) or a
    ``failure``."""

    item: Claimed
    sent: str = ""
    skipped: str = ""
    failure: DeliveryFailed | None = None
    text: str = ""  # an in-platform message's text, kept in its thread
    at: datetime | None = None  # when it was sent


@dataclass
class _Batch:
    prepared: dict[tuple[str, int], PreparedDraft | str] = field(
        default_factory=dict
    )  # str: why it cannot go
    partners: dict[tuple[str, str], Partner] = field(default_factory=dict)
    suppressed: dict[str, dict[str, str]] = field(default_factory=dict)  # team -> {address: reason}


class DeliveryWorker:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        mailer: Mailer,
        transport: MessageTransport | None,
        sniffer: Sniffer,
        scanner: Scanner,
        scan_cache: ScanCache,
        policy: AttachmentPolicy,
        tracking: TrackingConfig,
        layouts: Layouts,
        worker_id: str,
        retry: RetryPolicy | None = None,
        throttle: Throttle | None = None,
        lease: timedelta = timedelta(minutes=10),
        batch_size: int = 100,
        in_flight_group: int = 10,
        on_progress: ProgressListener | None = None,
        unsubscribe: UnsubscribeLinks | None = None,
        personal_mailer: Callable[[str, str], Mailer | None] | None = None,
        progress_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._mailer = mailer
        self._transport = transport
        self._sniffer = sniffer
        self._scanner = scanner
        self._cache = scan_cache
        self._policy = policy
        self._tracking = tracking
        self._layouts = layouts
        self.worker_id = worker_id
        self._retry = retry or RetryPolicy()
        self._throttle = throttle or Throttle(0)
        self._lease = lease
        self._batch_size = batch_size
        self._group = max(1, in_flight_group)
        self._on_progress = on_progress
        self._unsubscribe = unsubscribe
        self._personal_mailer = personal_mailer  # (team, author) → the author's own account, if connected
        self._progress_interval = progress_interval
        self._monotonic = monotonic
        self._last_report: dict[tuple[str, int], float] = {}  # when each draft's progress was last reported
        self._drafts: dict[tuple[str, int], Draft] = {}  # drafts being sent (a sending draft never changes)

    # -- the loop ------------------------------------------------------------------------------------------
    def run_once(self, draft_id: int | None = None) -> int:
        """Claim one batch and work it; returns how many deliveries it handled (0: nothing due)."""
        with self._mailer.open() as session:
            return self._run_batch(draft_id, session)[0]

    def run_until_idle(
        self,
        draft_id: int | None = None,
        max_batches: int = 1_000_000,
        stop: Callable[[], bool] = lambda: False,
    ) -> int:
        """Work batches until none is due (or ``stop()`` says so between batches: a shutdown finishes the batch
        it is in, so nothing it claimed waits for the lease); returns how many deliveries were handled.

        Consecutive batches share one mail session (one SMTP connection) while their sends go well; after a
        send failed, the next batch starts on a fresh one.
        """
        total = 0
        session = self._mailer.open()
        try:
            for _ in range(max_batches):
                if stop():
                    break
                handled, clean = self._run_batch(draft_id, session)
                if not handled:
                    break
                total += handled
                if not clean:
                    session.close()
                    session = self._mailer.open()
        finally:
            session.close()
        return total

    def _run_batch(self, draft_id: int | None, session: MailSession) -> tuple[int, bool]:
        """(deliveries handled, whether every send on ``session`` went through)."""
        self._recover()
        now = self._clock.now()
        with self._uow() as uow:
            claimed = uow.queue.claim(self.worker_id, now, self._batch_size, draft_id)
            uow.commit()
        if not claimed:
            return 0, True
        batch = _Batch()
        self._load_partners(batch, claimed)
        emails = [c for c in claimed if self._channel(batch, c) is Channel.EMAIL]
        messages = [c for c in claimed if self._channel(batch, c) is not Channel.EMAIL]
        for team_id in dict.fromkeys(c.team_id for c in emails):
            self._suppressed(batch, team_id, "")  # one query a batch and workspace
        clean = True
        known: list[_Outcome] = []  # results not recorded yet
        own: dict[tuple[str, str], MailSession | None] = {}  # authors' own accounts, one session each a batch
        try:
            for start in range(0, len(emails), self._group):
                group = emails[start : start + self._group]
                senders = [self._own_sender(batch, item, own) or session for item in group]
                built = [
                    self._build(batch, item, sender) for item, sender in zip(group, senders, strict=True)
                ]
                going = [item for item, mail in zip(group, built, strict=True) if isinstance(mail, ReadyMail)]
                # One transaction: the results so far, and this group in flight before any of it goes out.
                recording, known = known, []
                ours = self._commit(batch, recording, going)
                for item, sender, mail in zip(group, senders, built, strict=True):
                    if isinstance(mail, str):
                        known.append(_Outcome(item, skipped=mail))
                    elif isinstance(mail, DeliveryFailed):
                        known.append(_Outcome(item, failure=mail))
                    elif item.delivery.id in ours:
                        self._throttle.wait()
                        try:
                            provider_id = sender.send_ready(mail)
                            known.append(_Outcome(item, sent=provider_id, at=self._clock.now()))
                        except DeliveryFailed as failure:
                            clean = clean and sender is not session
                            known.append(_Outcome(item, failure=failure))
        finally:
            recording, known = known, []
            self._commit(
                batch, recording, []
            )  # also when the batch stops on an error: those results are true
            for personal in own.values():
                if personal is not None:
                    personal.close()
        for item in messages:
            self._deliver_message(batch, item)
        for team_id, draft_id_ in sorted({(c.team_id, c.delivery.draft_id) for c in claimed}):
            self._finish_if_done(team_id, draft_id_)
        return len(claimed), clean

    def _own_sender(
        self, batch: _Batch, item: Claimed, own: dict[tuple[str, str], MailSession | None]
    ) -> MailSession | None:
        """The author's own account's session when they connected one; None for the shared mailer."""
        prepared = self._prepared(batch, item)
        if self._personal_mailer is None or not isinstance(prepared, PreparedDraft):
            return None
        key = (item.team_id, prepared.draft.author_id)
        if key not in own:
            mailer = self._personal_mailer(*key)
            own[key] = mailer.open() if mailer is not None else None
        return own[key]

    # -- one delivery ---------------------------------------------------------------------------------
    def _channel(self, batch: _Batch, item: Claimed) -> Channel:
        prepared = self._prepared(batch, item)
        return prepared.draft.channel if isinstance(prepared, PreparedDraft) else Channel.EMAIL

    def _build(self, batch: _Batch, item: Claimed, session: MailSession) -> ReadyMail | DeliveryFailed | str:
        """The e-mail of one delivery as it will go out; DeliveryFailed when it cannot, or the reason it is
        skipped. Reads only what the batch holds (no database)."""
        try:
            prepared, partner = self._target(batch, item)
        except DeliveryFailed as failure:
            return failure
        if not partner.email:
            return DeliveryFailed("the recipient has no e-mail address", permanent=True)
        if self._suppressed(batch, item.team_id, partner.email):
            return SKIP_SUPPRESSED
        headers: tuple[tuple[str, str], ...] = ()
        footer = ""
        if self._unsubscribe is not None:
            headers = self._unsubscribe.headers(item.team_id, partner.email)
            footer = UNSUBSCRIBE_FOOTER + self._unsubscribe.url(item.team_id, partner.email)
        try:
            return session.build(email_for(prepared, partner, self._layouts, headers, footer))
        except DeliveryFailed as failure:
            return failure

    def _target(self, batch: _Batch, item: Claimed) -> tuple[PreparedDraft, Partner]:
        """The prepared draft and the partner of one delivery; DeliveryFailed when either is missing."""
        prepared = self._prepared(batch, item)
        if isinstance(prepared, str):
            raise DeliveryFailed(prepared, permanent=prepared.startswith("the draft"))
        partner = self._partner(batch, item)
        if partner is None:
            raise DeliveryFailed("the recipient is no longer in this workspace", permanent=True)
        return prepared, partner

    def _deliver_message(self, batch: _Batch, item: Claimed) -> None:
        """Send one in-platform message: in flight (committed), sent, recorded."""
        try:
            prepared, partner = self._target(batch, item)
            if not partner.messaging_enabled:
                raise DeliveryFailed("the recipient does not accept messages", permanent=True)
            if self._transport is None:
                raise DeliveryFailed("in-platform messages are not configured", permanent=False)
            message = message_for(prepared, partner)
            if item.delivery.id not in self._commit(batch, [], [item]):
                return
            self._throttle.wait()
            provider_id = self._transport.send(message)
            outcome = _Outcome(item, sent=provider_id, text=message.text, at=self._clock.now())
        except DeliveryFailed as failure:
            outcome = _Outcome(item, failure=failure)
        self._commit(batch, [outcome], [])

    # -- recording -----------------------------------------------------------------------------------
    def _commit(self, batch: _Batch, outcomes: list[_Outcome], going: list[Claimed]) -> set[int]:
        """Record ``outcomes`` and move ``going`` CLAIMED → IN_FLIGHT, in one transaction; returns the ids
        of ``going`` that were still ours (a row whose lease passed belongs to nobody now: not sent)."""
        if not outcomes and not going:
            return set()
        now = self._clock.now()
        ours: set[int] = set()
        with self._uow() as uow:
            by_team: dict[str, list[int]] = {}
            for item in going:
                assert item.delivery.id is not None
                by_team.setdefault(item.team_id, []).append(item.delivery.id)
            for team_id, delivery_ids in by_team.items():
                ours |= uow.queue.sending_many(team_id, delivery_ids, self.worker_id, now)
            contacted: dict[tuple[str, str], list[_Outcome]] = {}  # (team, author) → sent
            sent_rows: dict[str, list[Delivery]] = {}  # team → SENT rows, written in one statement
            for outcome in outcomes:
                prepared = self._prepared(batch, outcome.item)
                if outcome.sent and isinstance(prepared, PreparedDraft):
                    key = (outcome.item.team_id, prepared.draft.author_id)
                    contacted.setdefault(key, []).append(outcome)
                    if prepared.draft.channel is Channel.EMAIL:
                        row = _with(
                            outcome.item.delivery, DeliveryStatus.SENT, "", outcome.sent, outcome.at or now
                        )
                        sent_rows.setdefault(outcome.item.team_id, []).append(row)
                        continue
                self._record(uow, batch, outcome, now)
            for team_id, rows in sent_rows.items():
                uow.deliveries.save_many(team_id, rows)
            for (team_id, author_id), sent in contacted.items():  # one statement a group, with its results
                at = max(o.at or now for o in sent)
                uow.prospects.mark_contacted(team_id, [o.item.delivery.mpid for o in sent], at, author_id)
            uow.commit()
        for item in going:
            if item.delivery.id not in ours:
                log.warning("delivery %s is no longer ours; not sending it", item.delivery.id)
        for team_id, draft_id in dict.fromkeys((o.item.team_id, o.item.delivery.draft_id) for o in outcomes):
            self._report(team_id, draft_id, finished=False)
        return ours

    def _record(self, uow: UnitOfWork, batch: _Batch, outcome: _Outcome, now: datetime) -> None:
        item, delivery = outcome.item, outcome.item.delivery
        assert delivery.id is not None
        if outcome.skipped:
            uow.deliveries.save(
                item.team_id, _with(delivery, DeliveryStatus.SKIPPED, outcome.skipped, "", None)
            )
        elif outcome.failure is not None:
            failure = outcome.failure
            if failure.bounce:
                partner = self._partner(batch, item)
                if partner is not None and partner.email:
                    uow.suppressions.add(item.team_id, partner.email, "bounced", failure.reason)
            if not failure.permanent and delivery.attempts < self._retry.max_attempts:
                uow.queue.retry_later(
                    item.team_id, delivery.id, failure.reason, now + self._retry.delay(delivery.attempts)
                )
            else:
                uow.deliveries.save(
                    item.team_id, _with(delivery, DeliveryStatus.FAILED, failure.reason, "", None)
                )
                uow.audit.record(
                    AuditEvent(
                        item.team_id,
                        "",
                        "delivery.failed",
                        now,
                        draft_id=delivery.draft_id,
                        mpid=delivery.mpid,
                        detail=failure.reason,
                    )
                )
        else:
            # Its delivery row is the record of the send (the audit export reads it).
            sent_at = outcome.at or now
            uow.deliveries.save(item.team_id, _with(delivery, DeliveryStatus.SENT, "", outcome.sent, sent_at))
            prepared = self._prepared(batch, item)
            if isinstance(prepared, PreparedDraft) and prepared.draft.channel is Channel.MESSAGE:
                thread = uow.threads.open(item.team_id, delivery.mpid, Channel.MESSAGE)
                assert thread.id is not None  # kept in the thread, where the partner's replies land
                uow.threads.add_message(
                    item.team_id,
                    thread.id,
                    ThreadMessage(
                        Direction.OUT,
                        outcome.text,
                        author_id=prepared.draft.author_id,
                        provider_message_id=outcome.sent,
                        delivery_id=delivery.id,
                        at=sent_at,
                    ),
                )

    def _suppressed(self, batch: _Batch, team_id: str, email: str) -> bool:
        """Addresses that unsubscribed or bounced since the plan was stored are never e-mailed (one query a
        batch and workspace, made before the batch's e-mails are built)."""
        if team_id not in batch.suppressed:
            emails = [p.email for (team, _), p in batch.partners.items() if team == team_id and p.email]
            with self._uow() as uow:
                batch.suppressed[team_id] = uow.suppressions.among(team_id, emails)
        return email.strip().lower() in batch.suppressed[team_id]

    # -- per batch caches ------------------------------------------------------------------------------
    def _prepared(self, batch: _Batch, item: Claimed) -> PreparedDraft | str:
        key = (item.team_id, item.delivery.draft_id)
        if key not in batch.prepared:
            batch.prepared[key] = self._prepare(*key)
        return batch.prepared[key]

    def _prepare(self, team_id: str, draft_id: int) -> PreparedDraft | str:
        with self._uow() as uow:
            draft = self._drafts.get((team_id, draft_id)) or uow.drafts.get(team_id, draft_id)
            if draft is None:
                return "the draft no longer exists"
            ads = {a.adid: a for a in uow.ads.all(team_id)}
        self._remember(draft)
        check = recheck_for_send(draft.attachments, self._sniffer, self._scanner, self._policy, self._cache)
        if not check.ok:
            # An infected file is permanent; one that cannot be scanned right now is retried later.
            reasons = "; ".join(p.message for p in check.problems)
            permanent = any(p.code != "unscannable" for p in check.problems)
            return ("the draft's attachments were refused: " if permanent else "") + reasons
        return prepare(draft, ads, self._tracking, self._clock.now())

    def _remember(self, draft: Draft) -> None:
        assert draft.id is not None
        key = (draft.team_id, draft.id)
        if key not in self._drafts:
            while len(self._drafts) >= MAX_DRAFTS_KEPT:
                self._drafts.pop(next(iter(self._drafts)))
            self._drafts[key] = draft

    def _load_partners(self, batch: _Batch, claimed: list[Claimed]) -> None:
        """Every recipient of the batch in one query per workspace (a partner gone since is simply missing)."""
        by_team: dict[str, list[str]] = {}
        for item in claimed:
            by_team.setdefault(item.team_id, []).append(item.delivery.mpid)
        with self._uow() as uow:
            for team_id, mpids in by_team.items():
                for mpid, partner in uow.partners.get_many(team_id, mpids).items():
                    batch.partners[(team_id, mpid)] = partner

    @staticmethod
    def _partner(batch: _Batch, item: Claimed) -> Partner | None:
        return batch.partners.get((item.team_id, item.delivery.mpid))

    # -- bookkeeping ---------------------------------------------------------------------------------------
    def _recover(self) -> None:
        with self._uow() as uow:
            touched = uow.queue.abandon_stale(self._clock.now() - self._lease, INTERRUPTED)
            # Drafts whose every delivery is done but which are still SENDING: whoever finished the last one
            # stopped before closing the draft (an error after the last commit). Closed by whoever comes next.
            unclosed = [key for key in uow.queue.finished_sending() if key not in touched]
            uow.commit()
        for team_id, draft_id in touched:
            log.warning(
                "deliveries of draft %s (%s) were interrupted mid-send; marked failed", draft_id, team_id
            )
            self._finish_if_done(team_id, draft_id)
        for team_id, draft_id in unclosed:
            log.warning("draft %s (%s) was sent but not closed; closing it", draft_id, team_id)
            self._finish_if_done(team_id, draft_id)

    def _finish_if_done(self, team_id: str, draft_id: int) -> None:
        with self._uow() as uow:
            if uow.queue.has_open(team_id, draft_id):
                return
            counts = uow.queue.counts(team_id, draft_id)
            sent, failed = counts[DeliveryStatus.SENT], counts[DeliveryStatus.FAILED]
            status = DraftStatus.SENT if not failed else (DraftStatus.PARTIAL if sent else DraftStatus.FAILED)
            # Whoever moves it out of SENDING tells the author, once (several workers may finish a send).
            closed = uow.drafts.set_status(team_id, draft_id, status, only_from=DraftStatus.SENDING)
            uow.commit()
        if closed:
            self._report(team_id, draft_id, finished=True)

    def _report(self, team_id: str, draft_id: int, *, finished: bool) -> None:
        """Tell the listener where the send stands: at once when it ends, else at most every interval."""
        if self._on_progress is None:
            return
        key, now = (team_id, draft_id), self._monotonic()
        last = self._last_report.get(key)
        if not finished and last is not None and now - last < self._progress_interval:
            return
        with self._uow() as uow:
            counts = uow.queue.counts(team_id, draft_id)
            draft = self._drafts.get(key) or uow.drafts.get(team_id, draft_id)
        if finished:
            self._last_report.pop(key, None)
            self._drafts.pop(key, None)
        else:
            self._last_report[key] = now
        if draft is not None:
            try:
                self._on_progress(Progress(team_id, draft_id, draft.author_id, counts, finished))
            except Exception:  # telling the author is not sending: a failing listener stops no send
                log.exception("progress of draft %s (%s) could not be reported", draft_id, team_id)


def _with(
    delivery: Delivery, status: DeliveryStatus, error: str, provider_id: str, sent_at: datetime | None
) -> Delivery:
    return dataclasses.replace(
        delivery, status=status, last_error=error, provider_message_id=provider_id, sent_at=sent_at
    )
