"""The worker loop: claim a batch, send it a group at a time, record each result.

A worker moves a stored plan's rows along (see :mod:`outreach.delivery` for the whole picture):
``PENDING → CLAIMED`` (a batch, an attempt counted) ``→ IN_FLIGHT`` (a group of ``in_flight_group`` e-mails,
committed before any of them goes out) ``→ SENT``/``SKIPPED``/``FAILED``, or back to ``PENDING``, due later,
after a passing refusal.

The rules:

* Every e-mail of a group is built, and its slots in its account's send budget reserved
  (:mod:`outreach.delivery.throttle`), before the group is committed in flight — when its first slot comes,
  in the transaction that records the previous group's results (:class:`~outreach.delivery.recording.Recorder`),
  so a group is in flight for its own sends only, however many workers share the budget. Then the rows still
  ours go out, each at its slot (over the server's connections, :mod:`outreach.delivery.lanes`), and the next
  group is built while they do (building writes nothing). In-platform messages go one at a time: in flight,
  sent, recorded.
* One recipient's refusal never stops the others. When a batch stops on an error, the results it has are
  recorded all the same (they are true).
* At most once: before each batch, deliveries whose lease passed are recovered — those IN_FLIGHT when their
  worker died may have left, so they are FAILED (:data:`INTERRUPTED`) and never retried by themselves; those
  only CLAIMED were never attempted and go back to the queue. A send left open by a worker that stopped
  after its last result is closed by whoever comes next.
* An e-mail goes out through its author's own mailbox when they connected one (one session per author and
  batch), else through its workspace's own server or From (``workspace_mailer``, from the workspace's
  settings: one session per workspace and batch, its e-mails one after another), else through the deployment's
  server, over ``connections`` connections at once (SMTP_CONNECTIONS, :mod:`outreach.delivery.lanes`; the
  in-flight group rounded up to a multiple of them). ``run_until_idle`` keeps its connections to the server
  across batches while its sends go well, and starts fresh ones after a send on one of them failed.
* A worker asked to stop (``stop()``) finishes the batch it is in, so nothing it claimed waits for the lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from outreach.attachments import AttachmentPolicy, ScanCache
from outreach.bounce_address import BounceAddresses
from outreach.delivery.batch import Batch, Preparation, SendingDrafts, Skip
from outreach.delivery.lanes import Lanes, group_size
from outreach.delivery.progress import ProgressListener, ProgressReporter
from outreach.delivery.recording import Outcome, Recorder, Refused, Sent, Skipped
from outreach.delivery.retry import RetryPolicy
from outreach.delivery.throttle import MESSAGES, SERVER, Throttle, own_mailbox
from outreach.errors import DeliveryFailed, Refusal
from outreach.layouts import Layouts
from outreach.models import Channel, Claimed, ReadyMail
from outreach.ports import (
    Clock,
    ConversationEvents,
    Mailer,
    MailSession,
    MessageTransport,
    Scanner,
    Sniffer,
    UnitOfWork,
)
from outreach.rendering import TrackingConfig
from outreach.unsubscribe import UnsubscribeLinks

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted while sending: it may or may not have left, so it is not sent again by itself"
NO_TRANSPORT = Refusal("in-platform messages are not configured", permanent=False)

# (team, author) → the author's own account and session, if connected; (team, "") → the workspace's own
_Own = dict[tuple[str, str], tuple[str, MailSession] | None]
WorkspaceMailer = Callable[
    [str], tuple[str, Mailer] | None
]  # team → (its budget's account, its mailer) or None
WorkspaceTransport = Callable[[str], tuple[str, MessageTransport] | None]  # team → its own webhook, or None


_Built = tuple[
    list["_Ready"], list[Outcome]
]  # a group's e-mails ready to go, and those settled without going


@dataclass(frozen=True, slots=True)
class _Ready:
    """An e-mail of a group, built: the account whose budget it spends, the session it goes out on."""

    item: Claimed
    account: str
    sender: MailSession
    mail: ReadyMail


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
        connections: int = 1,
        on_progress: ProgressListener | None = None,
        unsubscribe: UnsubscribeLinks | None = None,
        personal_mailer: Callable[[str, str], Mailer | None] | None = None,
        bounces: BounceAddresses | None = None,
        progress_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        events: ConversationEvents | None = None,
        workspace_mailer: WorkspaceMailer | None = None,
        workspace_transport: WorkspaceTransport | None = None,
    ) -> None:
        self._uow = uow
        self._workspace_mailer = workspace_mailer
        self._workspace_transport = workspace_transport
        self._clock = clock
        self._mailer = mailer
        self._transport = transport
        self.worker_id = worker_id
        self._throttle = throttle or Throttle(0)
        self._lease = lease
        self._batch_size = batch_size
        self._connections = max(1, connections)
        self._group = group_size(in_flight_group, self._connections)
        self._personal_mailer = personal_mailer  # (team, author) → the author's own account, if connected
        drafts = SendingDrafts()
        self._preparation = Preparation(
            uow, clock, sniffer, scanner, scan_cache, policy, tracking, layouts, unsubscribe, drafts, bounces
        )
        progress = ProgressReporter(uow, on_progress, drafts.get, progress_interval, monotonic)
        self._recorder = Recorder(
            uow=uow,
            clock=clock,
            retry=retry or RetryPolicy(),
            worker_id=worker_id,
            drafts=drafts,
            progress=progress,
            events=events,
        )

    def run_once(self, draft_id: int | None = None) -> int:
        """Claim one batch and work it; returns how many deliveries it handled (0: nothing due)."""
        with Lanes(self._mailer, self._connections) as lanes:
            return self._run_batch(draft_id, lanes)[0]

    def run_until_idle(
        self,
        draft_id: int | None = None,
        max_batches: int = 1_000_000,
        stop: Callable[[], bool] = lambda: False,
    ) -> int:
        """Work batches until none is due (or ``stop()`` says so between batches); returns how many
        deliveries were handled."""
        total = 0
        with Lanes(self._mailer, self._connections) as lanes:
            for _ in range(max_batches):
                if stop():
                    break
                handled, clean = self._run_batch(draft_id, lanes)
                if not handled:
                    break
                total += handled
                if not clean:
                    lanes.reopen()
        return total

    def _run_batch(self, draft_id: int | None, lanes: Lanes) -> tuple[int, bool]:
        """(deliveries handled, whether every send to the server went through)."""
        self._recover()
        with self._uow() as uow:
            claimed = uow.queue.claim(self.worker_id, self._clock.now(), self._batch_size, draft_id)
            uow.commit()
        if not claimed:
            return 0, True
        batch = self._preparation.load(claimed)
        emails = [c for c in claimed if batch.channel(c) is Channel.EMAIL]
        messages = [c for c in claimed if batch.channel(c) is not Channel.EMAIL]
        clean = self._send_emails(batch, emails, lanes)
        for item in messages:
            self._send_message(batch, item)
        for team_id, draft_id_ in sorted({(c.team_id, c.delivery.draft_id) for c in claimed}):
            self._recorder.close_if_done(team_id, draft_id_)
        return len(claimed), clean

    def _send_emails(self, batch: Batch, emails: Sequence[Claimed], lanes: Lanes) -> bool:
        """Send a batch's e-mails a group at a time; whether every send to the server went through."""
        clean = True
        results: list[Outcome] = []  # not recorded yet
        own: _Own = {}
        try:
            groups = [emails[start : start + self._group] for start in range(0, len(emails), self._group)]
            built = self._build(batch, groups[0], own, lanes) if groups else None
            for following in [*groups[1:], None] if groups else []:
                assert built is not None
                ahead: list[_Built] = []

                def build_ahead(
                    group: Sequence[Claimed] | None = following, into: list[_Built] = ahead
                ) -> None:
                    if group is not None:
                        into.append(self._build(batch, group, own, lanes))

                clean = self._send_group(batch, built, lanes, results, build_ahead) and clean
                built = ahead[0] if ahead else None
        finally:
            self._recorder.commit(batch, results, [])  # also when the batch stops on an error: they are true
            for personal in own.values():
                if personal is not None:
                    personal[1].close()
        return clean

    def _build(self, batch: Batch, group: Sequence[Claimed], own: _Own, lanes: Lanes) -> _Built:
        """The group's e-mails built (no database write, nothing sent), and those that will not go."""
        ready: list[_Ready] = []
        settled: list[Outcome] = []
        for item in group:
            account, sender = self._sender(batch, item, own, lanes.main)
            mail = batch.email(item, sender)
            if isinstance(mail, Skip):
                settled.append(Skipped(item, mail.code))
            elif isinstance(mail, Refusal):
                settled.append(Refused(item, mail))
            else:
                ready.append(_Ready(item, account, sender, mail))
        return ready, settled

    def _send_group(
        self,
        batch: Batch,
        built: _Built,
        lanes: Lanes,
        results: list[Outcome],
        build_ahead: Callable[[], None],
    ) -> bool:
        """Reserve the built group's slots; record ``results`` and put the group in flight in one commit; then
        send what is still ours (the server's over its connections, a user's own mailbox's one after another),
        building the next group (``build_ahead``) while the connections send. ``results`` becomes the group's.
        Whether every send to the server went through."""
        ready, settled = built
        slots = self._throttle.reserve([r.account for r in ready]) or [0.0] * len(ready)
        if any(slots):
            self._throttle.wait_until(min(slots))  # in flight no sooner than its first slot
        ours = self._recorder.commit(batch, results, [r.item for r in ready])
        results[:] = settled
        go = [(r, slot) for r, slot in zip(ready, slots, strict=True) if r.item.delivery.id in ours]
        to_server = [job for job in go if job[0].sender is lanes.main]
        personal = [job for job in go if job[0].sender is not lanes.main]
        sent: dict[int, Outcome] = {}
        mine: list[Outcome] = []

        def meanwhile() -> None:
            mine.extend(self._send_one(r.sender, (r, slot)) for r, slot in personal)
            build_ahead()

        try:
            lanes.send(to_server, self._send_one, sent, meanwhile)
        finally:
            results += [sent[i] for i in sorted(sent)] + mine
        return not any(isinstance(sent[i], Refused) for i in sent)

    def _send_one(self, session: MailSession, job: tuple[_Ready, float]) -> Outcome:
        """One e-mail on ``session``, no sooner than its slot: sent, or refused."""
        ready, slot = job
        if slot:
            self._throttle.wait_until(slot)
        try:
            return Sent(ready.item, session.send_ready(ready.mail), self._clock.now())
        except DeliveryFailed as failure:
            return Refused(ready.item, failure.refusal)

    def _sender(
        self, batch: Batch, item: Claimed, own: _Own, session: MailSession
    ) -> tuple[str, MailSession]:
        """The account an e-mail spends the budget of, and the session it goes out on: the author's own
        mailbox when they connected one, else the workspace's own server or From, else the deployment's."""
        author = batch.author(item)
        if self._personal_mailer is not None and author is not None:
            key = (item.team_id, author)
            if key not in own:
                mailer = self._personal_mailer(*key)
                own[key] = (own_mailbox(*key), mailer.open()) if mailer is not None else None
            personal = own[key]
            if personal is not None:
                return personal
        if self._workspace_mailer is not None:
            key = (item.team_id, "")
            if key not in own:
                found = self._workspace_mailer(item.team_id)
                own[key] = (found[0], found[1].open()) if found is not None else None
            workspace = own[key]
            if workspace is not None:
                return workspace
        return SERVER, session

    def _send_message(self, batch: Batch, item: Claimed) -> None:
        """One in-platform message: in flight (committed), sent, recorded."""
        message = batch.message(item)
        outcome: Outcome
        if isinstance(message, Skip):
            outcome = Skipped(item, message.code)
        elif isinstance(message, Refusal):
            outcome = Refused(item, message)
        elif (chosen := self._transport_for(item.team_id)) is None:
            outcome = Refused(item, NO_TRANSPORT)
        else:
            account, transport = chosen
            for slot in self._throttle.reserve([account]):
                self._throttle.wait_until(slot)
            if item.delivery.id not in self._recorder.commit(batch, [], [item]):
                return
            try:
                provider_id = transport.send(message)
                outcome = Sent(item, provider_id, self._clock.now(), message.text)
            except DeliveryFailed as failure:
                outcome = Refused(item, failure.refusal)
        self._recorder.commit(batch, [outcome], [])

    def _transport_for(self, team_id: str) -> tuple[str, MessageTransport] | None:
        """The workspace's own webhook when it set one, else the deployment's (if any)."""
        own = self._workspace_transport(team_id) if self._workspace_transport is not None else None
        if own is not None:
            return own
        return (MESSAGES, self._transport) if self._transport is not None else None

    def _recover(self) -> None:
        with self._uow() as uow:
            touched = uow.queue.abandon_stale(self._clock.now() - self._lease, INTERRUPTED)
            # Sends whose every delivery is done but which are still SENDING: whoever finished the last one
            # stopped before closing it (an error after the last commit). Closed by whoever comes next.
            unclosed = [key for key in uow.queue.finished_sending() if key not in touched]
            uow.commit()
        for team_id, draft_id in touched:
            log.warning(
                "deliveries of draft %s (%s) were interrupted mid-send; marked failed", draft_id, team_id
            )
            self._recorder.close_if_done(team_id, draft_id)
        for team_id, draft_id in unclosed:
            log.warning("draft %s (%s) was sent but not closed; closing it", draft_id, team_id)
            self._recorder.close_if_done(team_id, draft_id)
