"""The author's outbox — what ``/prospects drafts`` lists — and the scheduled sends' runner.

The rules:

* **The list** (:meth:`Outbox.listing`): unsent drafts (newest first), scheduled sends (soonest first), and sends
  whose follow-ups are still to come (newest first), each the author's own.
* **Cancel a scheduled send**: it goes back to a draft (SCHEDULED → DRAFT, a conditional move: a worker starting
  it at that moment either started it first — it is being sent — or finds it a draft), its time kept in the form.
* **Send now**: a scheduled send planned at once, exactly as Send plans it, to everyone now (time zones aside).
* **The runner** (:meth:`Outbox.run_due`, asked by every delivery worker every few seconds): a scheduled send
  whose time has come is planned by :meth:`~outreach.compose.ComposeService.submit`, whose move SCHEDULED →
  SENDING is conditional — one worker plans it however many ask, and a restart loses nothing (the schedule is
  a row). First its files are checked again (a file now refused stops it); any problem — a file refused, an ad
  gone, every recipient suppressed — sends nothing and puts it back to a draft, and the one worker that moved it
  back says so (:class:`NotStarted`), for the author to be told.
* **Cancel follow-ups**: :class:`~outreach.followups.FollowupService`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from outreach.compose import ComposeService, SendPlan
from outreach.errors import NotFound, Problem, ValidationFailed
from outreach.followups import PENDING_STEP
from outreach.models import AuditEvent, Draft, DraftStatus
from outreach.ports import Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class SendWithFollowups:
    """A send with follow-ups still to come: its first message and its steps (every one, in order)."""

    draft: Draft
    steps: tuple[Draft, ...]

    @property
    def remaining(self) -> tuple[Draft, ...]:
        return tuple(s for s in self.steps if s.status in PENDING_STEP)


@dataclass(frozen=True, slots=True)
class Listing:
    drafts: tuple[Draft, ...]
    scheduled: tuple[Draft, ...]
    sequences: tuple[SendWithFollowups, ...]


@dataclass(frozen=True, slots=True)
class Started:
    """A scheduled send whose time came: planned (``plan.already_submitted``: by another worker)."""

    draft: Draft
    plan: SendPlan


@dataclass(frozen=True, slots=True)
class NotStarted:
    """A scheduled send whose time came, stopped by ``problems``: nothing sent, back to a draft."""

    draft: Draft
    problems: tuple[Problem, ...]


Ran = Started | NotStarted


class Outbox:
    def __init__(
        self,
        compose: ComposeService,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        work_waiting: Callable[[], None] = lambda: None,
    ) -> None:
        self._compose = compose
        self._uow = uow
        self._clock = clock
        self._work_waiting = work_waiting

    # -- the list ---------------------------------------------------------------------------------------------
    def listing(self, team_id: str, author_id: str) -> Listing:
        with self._uow() as uow:
            drafts = uow.drafts.for_author(team_id, author_id, (DraftStatus.DRAFT,))
            scheduled = uow.drafts.for_author(team_id, author_id, (DraftStatus.SCHEDULED,))
            open_steps = uow.drafts.for_author(team_id, author_id, tuple(PENDING_STEP))
            roots = dict.fromkeys(s.parent_id for s in open_steps if s.parent_id is not None)
            sequences = []
            for root_id in roots:
                root = uow.drafts.get(team_id, root_id)
                if root is not None:
                    sequences.append(SendWithFollowups(root, tuple(uow.drafts.steps(team_id, root_id))))
        far = datetime.max.replace(tzinfo=self._clock.now().tzinfo)
        scheduled.sort(key=lambda d: (d.send_at or far, d.id or 0))
        return Listing(tuple(drafts), tuple(scheduled), tuple(sequences))

    # -- a scheduled send ---------------------------------------------------------------------------------------
    def unschedule(self, team_id: str, author_id: str, draft_id: int) -> bool:
        """Back to a draft; False when it was not scheduled any more (started, or cancelled already)."""
        with self._uow() as uow:
            self._own(uow, team_id, author_id, draft_id)
            moved = uow.drafts.set_status(
                team_id, draft_id, DraftStatus.DRAFT, only_from=DraftStatus.SCHEDULED
            )
            if moved:
                uow.audit.record(
                    AuditEvent(team_id, author_id, "draft.unscheduled", self._clock.now(), draft_id=draft_id)
                )
            uow.commit()
        return moved

    def send_now(self, team_id: str, author_id: str, draft_id: int) -> SendPlan:
        """Plan the scheduled send at once; raises ValidationFailed (it stays scheduled), NotFound."""
        plan = self._compose.submit(team_id, author_id, draft_id, scheduled=True, at_once=True)
        self._work_waiting()
        return plan

    # -- the runner ---------------------------------------------------------------------------------------------
    def run_due(self, limit: int = 20) -> list[Ran]:
        """Start the scheduled sends whose time has come (see the module's rules)."""
        with self._uow() as uow:
            due = uow.queue.scheduled_due(self._clock.now(), limit)
        ran: list[Ran] = []
        for team_id, draft_id in due:
            outcome = self._start(team_id, draft_id)
            if outcome is not None:
                ran.append(outcome)
        if any(isinstance(r, Started) and not r.plan.already_submitted for r in ran):
            self._work_waiting()
        return ran

    def _start(self, team_id: str, draft_id: int) -> Ran | None:
        with self._uow() as uow:
            draft = uow.drafts.get(team_id, draft_id)
        if draft is None or draft.status is not DraftStatus.SCHEDULED:
            return None  # started or cancelled since it was listed
        author = draft.author_id
        problems = self._compose.files_refused(team_id, author, draft_id)
        if not problems:
            try:
                return Started(draft, self._compose.submit(team_id, author, draft_id, scheduled=True))
            except ValidationFailed as err:
                problems = list(err.problems)
            except NotFound:
                return None
        with self._uow() as uow:
            # One worker moves it back (and tells the author); another that got here too finds it a draft.
            moved = uow.drafts.set_status(
                team_id, draft_id, DraftStatus.DRAFT, only_from=DraftStatus.SCHEDULED
            )
            if moved:
                detail = "; ".join(p.message for p in problems)
                uow.audit.record(
                    AuditEvent(
                        team_id,
                        "",
                        "draft.schedule_failed",
                        self._clock.now(),
                        draft_id=draft_id,
                        detail=detail,
                    )
                )
            uow.commit()
        return NotStarted(draft, tuple(problems)) if moved else None

    @staticmethod
    def _own(uow: UnitOfWork, team_id: str, author_id: str, draft_id: int) -> Draft:
        draft = uow.drafts.get(team_id, draft_id)
        if draft is None or draft.author_id != author_id:
            raise NotFound("draft", str(draft_id))
        return draft
