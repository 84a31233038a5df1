"""What came of each delivery, written to the database; a send closed when nothing of it is left.

The rules:

* Sent: the delivery is SENT with the provider's message id and the time it went (its row is the record of
  the send: the audit export reads it), and the partner is marked contacted by the draft's author at that
  time. An in-platform message is also kept in its thread with the partner, where replies land.
* Skipped: SKIPPED, with its reason.
* Refused: a bounce first puts the address on the workspace's suppression list. Then the retry policy
  decides: back to PENDING, due later, with the reason; or FAILED with the reason, and a ``delivery.failed``
  audit event.
* One transaction records a group's results and puts the next group in flight (:meth:`Recorder.commit`):
  the sent e-mails in one statement per workspace, the partners contacted in one per author. One commit a
  group, not two a message (a commit costs as much as building a message).
* A delivery whose lease passed was taken back by another worker: ``commit`` says which of the group are
  still ours, and only those may go out.
* A send is closed — SENT, PARTIAL (some failed) or FAILED (none sent) — by whoever sees none of its
  deliveries open; the move out of SENDING is conditional, so only one worker closes it and tells the author.
* Follow-ups (outreach/followups.py): a message sent to a partner plans the send's next step for that partner,
  due ``delay_days`` after it went, in the transaction that records it — unless the step was cancelled. When a
  send (or a step) closes and its next step is still waiting, nobody got it: the later steps end, empty, in the
  same transaction. Each partner's outcome of a step is published as a conversation event after its commit
  (telling is not sending: a publisher that raises is logged and stops nothing).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from outreach.delivery.batch import Batch, SendingDrafts
from outreach.delivery.progress import ProgressReporter
from outreach.delivery.retry import RetryPolicy
from outreach.errors import Refusal
from outreach.followups import OPEN_STEP, due_after, ended_empty, event_for, has_next_step, next_step
from outreach.models import (
    AuditEvent,
    Channel,
    Claimed,
    Delivery,
    DeliveryStatus,
    Direction,
    Draft,
    DraftStatus,
    ThreadMessage,
)
from outreach.ports import Clock, ConversationEvents, UnitOfWork
from outreach.rendering import PreparedDraft

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sent:
    item: Claimed
    provider_id: str
    at: datetime
    text: str = ""  # an in-platform message's text, kept in its thread


@dataclass(frozen=True, slots=True)
class Skipped:
    item: Claimed
    code: str


@dataclass(frozen=True, slots=True)
class Refused:
    item: Claimed
    refusal: Refusal


Outcome = Sent | Skipped | Refused


class Recorder:
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        retry: RetryPolicy,
        worker_id: str,
        drafts: SendingDrafts,
        progress: ProgressReporter,
        events: ConversationEvents | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._retry = retry
        self._worker_id = worker_id
        self._drafts = drafts
        self._progress = progress
        self._events = events
        self._next: dict[tuple[str, int], Draft | None] = {}  # a send's (or step's) next step, read once

    def commit(self, batch: Batch, outcomes: Sequence[Outcome], going: Sequence[Claimed]) -> set[int]:
        """Record ``outcomes`` and move ``going`` CLAIMED → IN_FLIGHT, in one transaction; returns the ids of
        ``going`` that were still ours."""
        if not outcomes and not going:
            return set()
        now = self._clock.now()
        with self._uow() as uow:
            ours = self._in_flight(uow, going, now)
            sent_emails: dict[str, list[Delivery]] = {}  # team → SENT rows, written in one statement
            contacted: dict[tuple[str, str], list[Sent]] = {}  # (team, author) → sent
            followups: dict[tuple[str, int], dict[str, datetime]] = {}  # (team, next step) → {mpid: due}
            for outcome in outcomes:
                item = outcome.item
                if isinstance(outcome, Sent):
                    draft = _sent_draft(batch, item)
                    contacted.setdefault((item.team_id, draft.author_id), []).append(outcome)
                    step = self._next_step(uow, draft)
                    if step is not None and step.id is not None:
                        due = followups.setdefault((item.team_id, step.id), {})
                        due[item.delivery.mpid] = due_after(outcome.at, step)
                    row = _with(item.delivery, DeliveryStatus.SENT, "", outcome.provider_id, outcome.at)
                    if draft.channel is Channel.EMAIL:
                        sent_emails.setdefault(item.team_id, []).append(row)
                    else:
                        uow.deliveries.save(item.team_id, row)
                        _keep_in_thread(uow, draft, outcome)
                elif isinstance(outcome, Skipped):
                    row = _with(item.delivery, DeliveryStatus.SKIPPED, outcome.code, "", None)
                    uow.deliveries.save(item.team_id, row)
                else:
                    self._refused(uow, batch, outcome, now)
            for team_id, rows in sent_emails.items():
                uow.deliveries.save_many(team_id, rows)
            for (team_id, author_id), sent in contacted.items():
                at = max(o.at for o in sent)
                uow.prospects.mark_contacted(team_id, [o.item.delivery.mpid for o in sent], at, author_id)
            for (team_id, step_id), due in followups.items():
                # Locks the step's row: a Cancel at the same moment either comes first (nothing is planned) or
                # after (and skips what is planned here).
                if uow.drafts.set_status(team_id, step_id, DraftStatus.SENDING, only_from=OPEN_STEP):
                    uow.deliveries.plan_followups(team_id, step_id, due)
            uow.commit()
        for item in going:
            if item.delivery.id not in ours:
                log.warning("delivery %s is no longer ours; not sending it", item.delivery.id)
        self._publish(batch, outcomes, now)
        for team_id, draft_id in dict.fromkeys((o.item.team_id, o.item.delivery.draft_id) for o in outcomes):
            self._progress.report(team_id, draft_id, finished=False)
        return ours

    def _next_step(self, uow: UnitOfWork, draft: Draft) -> Draft | None:
        """The step that follows ``draft`` (read once per send: it is stored when the send is planned)."""
        if not has_next_step(draft) or draft.id is None:
            return None
        key = (draft.team_id, draft.id)
        if key not in self._next:
            while len(self._next) >= 64:
                self._next.pop(next(iter(self._next)))
            self._next[key] = next_step(uow, draft)
        return self._next[key]

    def _publish(self, batch: Batch, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Each partner's outcome of a follow-up step, as a conversation event (after its commit: true)."""
        if self._events is None:
            return
        for outcome in outcomes:
            if isinstance(outcome, Refused):
                continue
            prepared = batch.draft(outcome.item)
            if not isinstance(prepared, PreparedDraft) or prepared.draft.step == 0:
                continue
            mpid, delivery_id = outcome.item.delivery.mpid, outcome.item.delivery.id
            if isinstance(outcome, Sent):
                text = outcome.text or batch.texts.get(delivery_id or 0, "")
                event = event_for(prepared.draft, mpid, outcome.at, sent_text=text)
            else:
                event = event_for(prepared.draft, mpid, now, skipped=outcome.code)
            try:
                self._events.publish(event)
            except Exception:  # telling is not sending
                log.exception(
                    "the follow-up event of %s (draft %s) could not be published", mpid, event.draft_id
                )

    def close_if_done(self, team_id: str, draft_id: int) -> None:
        with self._uow() as uow:
            if uow.queue.has_open(team_id, draft_id):
                return
            counts = uow.queue.counts(team_id, draft_id)
            sent, failed = counts[DeliveryStatus.SENT], counts[DeliveryStatus.FAILED]
            status = DraftStatus.SENT if not failed else (DraftStatus.PARTIAL if sent else DraftStatus.FAILED)
            closed = uow.drafts.set_status(team_id, draft_id, status, only_from=DraftStatus.SENDING)
            if closed:
                draft = self._drafts.get(team_id, draft_id) or uow.drafts.get(team_id, draft_id)
                if draft is not None and ended_empty(uow, draft):
                    log.info("the follow-ups of draft %s (%s) have nobody to go to", draft_id, team_id)
            uow.commit()
        if closed:
            self._progress.report(team_id, draft_id, finished=True)
            self._drafts.forget(team_id, draft_id)

    def _in_flight(self, uow: UnitOfWork, going: Sequence[Claimed], now: datetime) -> set[int]:
        by_team: dict[str, list[int]] = {}
        for item in going:
            assert item.delivery.id is not None
            by_team.setdefault(item.team_id, []).append(item.delivery.id)
        ours: set[int] = set()
        for team_id, delivery_ids in by_team.items():
            ours |= uow.queue.sending_many(team_id, delivery_ids, self._worker_id, now)
        return ours

    def _refused(self, uow: UnitOfWork, batch: Batch, outcome: Refused, now: datetime) -> None:
        item, delivery, refusal = outcome.item, outcome.item.delivery, outcome.refusal
        assert delivery.id is not None
        if refusal.bounce:
            partner = batch.partner(item)
            if partner is not None and partner.email:
                uow.suppressions.add(item.team_id, partner.email, "bounced", refusal.reason)
        due = self._retry.retry_at(refusal, delivery.attempts, now)
        if due is not None:
            uow.queue.retry_later(item.team_id, delivery.id, refusal.reason, due)
            return
        uow.deliveries.save(item.team_id, _with(delivery, DeliveryStatus.FAILED, refusal.reason, "", None))
        uow.audit.record(
            AuditEvent(
                item.team_id,
                "",
                "delivery.failed",
                now,
                draft_id=delivery.draft_id,
                mpid=delivery.mpid,
                detail=refusal.reason,
            )
        )


def _sent_draft(batch: Batch, item: Claimed) -> Draft:
    prepared = batch.draft(item)
    assert isinstance(prepared, PreparedDraft)  # only a prepared draft's messages are sent
    return prepared.draft


def _keep_in_thread(uow: UnitOfWork, draft: Draft, sent: Sent) -> None:
    delivery = sent.item.delivery
    thread = uow.threads.open(sent.item.team_id, delivery.mpid, Channel.MESSAGE)
    assert thread.id is not None
    message = ThreadMessage(
        Direction.OUT,
        sent.text,
        author_id=draft.author_id,
        provider_message_id=sent.provider_id,
        delivery_id=delivery.id,
        at=sent.at,
    )
    uow.threads.add_message(sent.item.team_id, thread.id, message)


def _with(
    delivery: Delivery, status: DeliveryStatus, error: str, provider_id: str, sent_at: datetime | None
) -> Delivery:
    return dataclasses.replace(
        delivery, status=status, last_error=error, provider_message_id=provider_id, sent_at=sent_at
    )
