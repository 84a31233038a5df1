"""The send pipeline: claim a batch of deliveries, render, send, record each result.

A send is a stored plan (see :mod:`outreach.compose`); workers only move its rows along:
``PENDING → CLAIMED`` (a batch, an attempt counted) ``→ IN_FLIGHT`` (this one message, committed right before
it goes out) ``→ SENT`` or ``FAILED``, or back to ``PENDING`` with a later due time after a passing failure.
One recipient's failure never stops the others. Each result is committed as soon as it is known, in one short
transaction, which also marks the batch's next e-mail IN_FLIGHT (one transaction a message, not two). The
partners of a claimed batch are read in one query when it is claimed; a draft being sent can no longer change,
so a worker reads it once per send, not once per batch (ads and the time are read per batch);
progress is reported at most every ``progress_interval`` seconds per draft (and always when its send ends);
``run_until_idle`` keeps one SMTP connection across batches while they go well.

The window between "sent" and "recorded": a worker killed there leaves one row IN_FLIGHT, and nobody can know
whether that message left. We resolve it **at most once**: once the claim lease has passed, that row is marked
FAILED ("interrupted while sending") and never retried by itself, because a partner receiving the same e-mail
twice is worse for the author than one missing e-mail that the summary names and that "Retry failed" sends
again on the author's say-so. The rest of the dead worker's batch (CLAIMED, never attempted) goes back to the
queue. The window is one SMTP transaction long: at most one recipient per dead worker.

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
    Delivery,
    DeliveryStatus,
    Direction,
    Draft,
    DraftStatus,
    OutgoingEmail,
    Partner,
    ThreadMessage,
)
from outreach.ports import (
    Claimed,
    Clock,
    Mailer,
    MailSession,
    MessageTransport,
    Scanner,
    Sniffer,
    UnitOfWork,
)
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
        self._on_progress = on_progress
        self._unsubscribe = unsubscribe
        self._premarked: set[int] = set()  # deliveries already committed IN_FLIGHT with the previous result
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
        clean = True

        def send(email: OutgoingEmail) -> str:
            nonlocal clean
            try:
                return session.send(email)
            except DeliveryFailed:
                clean = False
                raise

        own: dict[tuple[str, str], MailSession | None] = {}  # authors' own accounts, one session each a batch
        try:
            for index, item in enumerate(emails):
                following = emails[index + 1] if index + 1 < len(emails) else None
                self._deliver(batch, item, self._own_sender(batch, item, own) or send, following)
        finally:
            self._premarked.clear()
            for personal in own.values():
                if personal is not None:
                    personal.close()
        for item in messages:
            self._deliver(batch, item, None)
        for team_id, draft_id_ in sorted({(c.team_id, c.delivery.draft_id) for c in claimed}):
            self._finish_if_done(team_id, draft_id_)
        return len(claimed), clean

    def _own_sender(
        self, batch: _Batch, item: Claimed, own: dict[tuple[str, str], MailSession | None]
    ) -> Callable[[OutgoingEmail], str] | None:
        """The author's own account's session when they connected one; None for the shared mailer."""
        prepared = self._prepared(batch, item)
        if self._personal_mailer is None or not isinstance(prepared, PreparedDraft):
            return None
        key = (item.team_id, prepared.draft.author_id)
        if key not in own:
            mailer = self._personal_mailer(*key)
            own[key] = mailer.open() if mailer is not None else None
        session = own[key]
        return session.send if session is not None else None

    # -- one delivery ---------------------------------------------------------------------------------
    def _channel(self, batch: _Batch, item: Claimed) -> Channel:
        prepared = self._prepared(batch, item)
        return prepared.draft.channel if isinstance(prepared, PreparedDraft) else Channel.EMAIL

    def _deliver(
        self,
        batch: _Batch,
        item: Claimed,
        send_email: Callable[..., str] | None,
        following: Claimed | None = None,
    ) -> None:
        """Send one delivery and record its result. ``following``: the next e-mail of the batch, marked IN_FLIGHT
        in the same transaction that records this result (one transaction a message instead of two; it is still
        committed IN_FLIGHT before it goes out)."""
        delivery = item.delivery
        assert delivery.id is not None
        prepared = self._prepared(batch, item)
        partner = self._partner(batch, item)
        text = ""
        try:
            if isinstance(prepared, str):
                raise DeliveryFailed(prepared, permanent=prepared.startswith("the draft"))
            if partner is None:
                raise DeliveryFailed("the recipient is no longer in this workspace", permanent=True)
            self._throttle.wait()
            if prepared.draft.channel is Channel.EMAIL:
                if not partner.email:
                    raise DeliveryFailed("the recipient has no e-mail address", permanent=True)
                if self._suppressed(batch, item.team_id, partner.email):
                    self._record_skipped(item, SKIP_SUPPRESSED, following)
                    return
                assert send_email is not None
                headers: tuple[tuple[str, str], ...] = ()
                footer = ""
                if self._unsubscribe is not None:
                    headers = self._unsubscribe.headers(item.team_id, partner.email)
                    footer = UNSUBSCRIBE_FOOTER + self._unsubscribe.url(item.team_id, partner.email)
                email = email_for(prepared, partner, self._layouts, headers, footer)
                if not self._mark_sending(item):
                    return
                provider_id = send_email(email)
            else:
                if not partner.messaging_enabled:
                    raise DeliveryFailed("the recipient does not accept messages", permanent=True)
                if self._transport is None:
                    raise DeliveryFailed("in-platform messages are not configured", permanent=False)
                message = message_for(prepared, partner)
                if not self._mark_sending(item):
                    return
                provider_id = self._transport.send(message)
                text = message.text
        except DeliveryFailed as failure:
            self._record_failure(item, failure, following)
            return
        self._record_sent(item, prepared.draft, provider_id, text, following)

    def _mark_sending(self, item: Claimed) -> bool:
        """Commit that this one message is going out; False when the row is no longer ours (lease passed)."""
        assert item.delivery.id is not None
        if item.delivery.id in self._premarked:
            self._premarked.discard(item.delivery.id)
            return True
        with self._uow() as uow:
            ours = uow.queue.sending(item.team_id, item.delivery.id, self.worker_id)
            uow.commit()
        if not ours:
            log.warning("delivery %s is no longer ours; not sending it", item.delivery.id)
        return ours

    def _premark(self, uow: UnitOfWork, following: Claimed | None) -> None:
        ident = following.delivery.id if following is not None else None
        if (
            following is not None
            and ident is not None
            and uow.queue.sending(following.team_id, ident, self.worker_id)
        ):
            self._premarked.add(ident)

    def _record_sent(
        self, item: Claimed, draft: Draft, provider_id: str, text: str = "", following: Claimed | None = None
    ) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            self._premark(uow, following)
            delivery = item.delivery
            uow.deliveries.save(item.team_id, _with(delivery, DeliveryStatus.SENT, "", provider_id, now))
            if draft.channel is Channel.MESSAGE:  # kept in the thread, where the partner's replies land
                thread = uow.threads.open(item.team_id, delivery.mpid, Channel.MESSAGE)
                assert thread.id is not None
                uow.threads.add_message(
                    item.team_id,
                    thread.id,
                    ThreadMessage(
                        Direction.OUT,
                        text,
                        author_id=draft.author_id,
                        provider_message_id=provider_id,
                        delivery_id=delivery.id,
                        at=now,
                    ),
                )
            uow.prospects.mark_contacted(item.team_id, [delivery.mpid], now)
            uow.audit.record(
                AuditEvent(
                    item.team_id,
                    draft.author_id,
                    f"{draft.channel.value}.sent",
                    now,
                    draft_id=delivery.draft_id,
                    mpid=delivery.mpid,
                    detail=provider_id,
                )
            )
            uow.commit()
        self._report(item.team_id, item.delivery.draft_id, finished=False)

    def _suppressed(self, batch: _Batch, team_id: str, email: str) -> bool:
        """Addresses that unsubscribed or bounced since the plan was stored are never e-mailed (one query a batch)."""
        if team_id not in batch.suppressed:
            emails = [p.email for (team, _), p in batch.partners.items() if team == team_id and p.email]
            with self._uow() as uow:
                batch.suppressed[team_id] = uow.suppressions.among(team_id, emails)
        return email.strip().lower() in batch.suppressed[team_id]

    def _record_skipped(self, item: Claimed, reason: str, following: Claimed | None = None) -> None:
        self._premarked.discard(item.delivery.id or 0)
        with self._uow() as uow:
            self._premark(uow, following)
            uow.deliveries.save(item.team_id, _with(item.delivery, DeliveryStatus.SKIPPED, reason, "", None))
            uow.commit()
        self._report(item.team_id, item.delivery.draft_id, finished=False)

    def _record_failure(
        self, item: Claimed, failure: DeliveryFailed, following: Claimed | None = None
    ) -> None:
        delivery = item.delivery
        assert delivery.id is not None
        self._premarked.discard(delivery.id)
        now = self._clock.now()
        with self._uow() as uow:
            self._premark(uow, following)
            if failure.bounce:
                partner = uow.partners.get(item.team_id, delivery.mpid)
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
            uow.commit()
        self._report(item.team_id, delivery.draft_id, finished=False)

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
            uow.commit()
        for team_id, draft_id in touched:
            log.warning(
                "deliveries of draft %s (%s) were interrupted mid-send; marked failed", draft_id, team_id
            )
            self._finish_if_done(team_id, draft_id)

    def _finish_if_done(self, team_id: str, draft_id: int) -> None:
        with self._uow() as uow:
            counts = uow.queue.counts(team_id, draft_id)
            if (
                counts[DeliveryStatus.PENDING]
                or counts[DeliveryStatus.CLAIMED]
                or counts[DeliveryStatus.IN_FLIGHT]
            ):
                return
            draft = uow.drafts.get(team_id, draft_id)
            if draft is None:
                return
            if draft.status is DraftStatus.SENDING:
                sent, failed = counts[DeliveryStatus.SENT], counts[DeliveryStatus.FAILED]
                status = (
                    DraftStatus.SENT if not failed else (DraftStatus.PARTIAL if sent else DraftStatus.FAILED)
                )
                uow.drafts.set_status(team_id, draft_id, status)
                uow.commit()
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
            self._on_progress(Progress(team_id, draft_id, draft.author_id, counts, finished))


def _with(
    delivery: Delivery, status: DeliveryStatus, error: str, provider_id: str, sent_at: datetime | None
) -> Delivery:
    return dataclasses.replace(
        delivery, status=status, last_error=error, provider_message_id=provider_id, sent_at=sent_at
    )
