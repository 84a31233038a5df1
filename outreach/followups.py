"""Follow-ups: "if no reply after N days, send …" — up to three steps after a send's first message.

The rules:

* **What a step is.** A send has at most ``MAX_STEPS`` follow-ups. Each waits 1 to ``MAX_DAYS`` days after the
  previous step and has its own content (required, at most ``CONTENT_MAX`` characters, the same tokens as the
  first message, checked the same way: :func:`outreach.tokens.check`) and, for an e-mail, its own subject —
  empty means "Re: " and the first message's subject, in the same e-mail thread. A step carries no files.
* **A step is a stored plan like any send.** When the send is planned, each step becomes a draft of its own
  (``WAITING``), with the first message's channel, sender name and reply-to (:func:`steps_of`).
* **Per partner, N days after the previous step went to them.** A step's delivery to a partner is planned when
  the previous step is *sent* to that partner, PENDING and due ``delay_days`` later; the delivery workers send
  it then, at most once, with retries, like any delivery. Who did not get the previous step (it failed, was
  skipped) gets no later step. A step none of whose partners got the previous step ends, empty, when the
  previous step ends (:func:`ended_empty`).
* **Skipped when it falls due** (:func:`skip_reason`), with its reason, for a partner who since the previous
  step went to them: replied (a message from them on any channel: ``ThreadMessage`` IN), whose address bounced
  or unsubscribed (the suppression list; for in-platform messages only an unsubscribe counts), or whom a
  teammate contacted (``partners.last_contacted_by`` someone else than the author, later than the previous
  step). Each partner's outcome is a :class:`~outreach.models.ConversationEvent` (:func:`event_for`).
* **An e-mail step answers the previous e-mail**: ``In-Reply-To`` and ``References`` carry its Message-ID.
* **Cancel** (:class:`FollowupService`): the author's call, from the drafts list or the send's DM. Steps not yet
  started are CANCELLED; a started one is CANCELLED and its deliveries not yet on their way (PENDING, or CLAIMED
  by a worker that has not put them in flight) are SKIPPED ``cancelled``; one already in flight still goes
  (at most once: nobody can call it back).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.errors import NotFound, Problem
from outreach.models import (
    AuditEvent,
    Channel,
    ConversationEvent,
    Draft,
    DraftStatus,
    EventKind,
    FollowUp,
    FollowupFacts,
)
from outreach.ports import Clock, UnitOfWork
from outreach.tokens import check
from outreach.validation import control_characters

MAX_STEPS = 3
MAX_DAYS = 90
CONTENT_MAX = 20_000
SUBJECT_MAX = 250

SKIP_REPLIED = "compose.skip.replied"
SKIP_BOUNCED = "compose.skip.bounced"
SKIP_UNSUBSCRIBED = "compose.skip.unsubscribed"
SKIP_TEAMMATE = "compose.skip.teammate"
SKIP_CANCELLED = "compose.skip.cancelled"
SKIP_NOT_SENT_BEFORE = "compose.skip.not_sent_before"
REASONS = (SKIP_REPLIED, SKIP_BOUNCED, SKIP_UNSUBSCRIBED, SKIP_TEAMMATE, SKIP_CANCELLED)

# A step still to come or going: planning more of it is allowed (a closed one is reopened: "Retry failed" of the
# previous step sent to someone more); a CANCELLED one is never planned again.
OPEN_STEP = frozenset(
    {DraftStatus.WAITING, DraftStatus.SENDING, DraftStatus.SENT, DraftStatus.PARTIAL, DraftStatus.FAILED}
)
PENDING_STEP = frozenset({DraftStatus.WAITING, DraftStatus.SENDING})  # what Cancel stops


# -- the form ---------------------------------------------------------------------------------------------------
def followup_problems(
    followups: Sequence[FollowUp], channel: Channel, adids: AbstractSet[str]
) -> list[Problem]:
    """Every problem with the steps as written, each on its own field (``followup.<n>.days|subject|content``)."""
    problems: list[Problem] = []
    if len(followups) > MAX_STEPS:
        problems.append(
            Problem("followup", "too_many", f"At most {MAX_STEPS} follow-ups.", (("limit", str(MAX_STEPS)),))
        )
    for n, step in enumerate(followups[:MAX_STEPS], 1):
        field = f"followup.{n}"
        if not 1 <= step.days <= MAX_DAYS:
            problems.append(
                Problem(
                    f"{field}.days",
                    "days_out_of_range",
                    f"Follow-up {n}: wait between 1 and {MAX_DAYS} days.",
                    (("step", str(n)), ("max", str(MAX_DAYS))),
                )
            )
        if not step.content.strip():
            problems.append(
                Problem(
                    f"{field}.content", "required", f"Follow-up {n}: write its content.", (("step", str(n)),)
                )
            )
        elif len(step.content) > CONTENT_MAX:
            problems.append(
                Problem(
                    f"{field}.content",
                    "too_long",
                    f"Follow-up {n}: the content is longer than {CONTENT_MAX} characters.",
                    (("step", str(n)), ("limit", str(CONTENT_MAX))),
                )
            )
        problems += check(step.content, adids, field=f"{field}.content")
        if channel is Channel.EMAIL and step.subject:
            problems += _subject_problems(step.subject, f"{field}.subject", n)
            problems += check(step.subject, adids, field=f"{field}.subject")
    return problems


def _subject_problems(subject: str, field: str, n: int) -> list[Problem]:
    controls = control_characters(subject)
    if controls:
        names = ", ".join(controls)
        return [
            Problem(
                field,
                "control_characters",
                f"Follow-up {n}: the subject must be a single line without control characters (found {names}).",
                (("characters", names),),
            )
        ]
    if len(subject) > SUBJECT_MAX:
        return [
            Problem(
                field,
                "too_long",
                f"Follow-up {n}: the subject is {len(subject)} characters long; the limit is {SUBJECT_MAX}.",
                (("length", str(len(subject))), ("max", str(SUBJECT_MAX))),
            )
        ]
    return []


# -- planning ---------------------------------------------------------------------------------------------------
def reply_subject(subject: str) -> str:
    """``Re: subject`` (once: a subject that already starts with "Re:" is kept)."""
    stripped = subject.strip()
    return stripped if stripped[:3].casefold() == "re:" else f"Re: {stripped}"


def steps_of(draft: Draft) -> list[Draft]:
    """The follow-up steps of a send being planned, as drafts to store (WAITING; no recipients, no files)."""
    assert draft.id is not None
    return [
        Draft(
            team_id=draft.team_id,
            author_id=draft.author_id,
            channel=draft.channel,
            sender_name=draft.sender_name,
            reply_to=draft.reply_to,
            subject=(step.subject.strip() or reply_subject(draft.subject))
            if draft.channel is Channel.EMAIL
            else "",
            content=step.content,
            status=DraftStatus.WAITING,
            parent_id=draft.id,
            step=n,
            delay_days=step.days,
        )
        for n, step in enumerate(draft.followups[:MAX_STEPS], 1)
    ]


def has_next_step(draft: Draft) -> bool:
    """Whether a later step may follow this draft (no database read: a plain send has none)."""
    return bool(draft.followups) if draft.step == 0 else draft.step < MAX_STEPS


def next_step(uow: UnitOfWork, draft: Draft) -> Draft | None:
    """The step that follows ``draft`` (its first follow-up, or the step after it), if the send has one."""
    root = draft.root_id
    if root is None or not has_next_step(draft):
        return None
    return next((s for s in uow.drafts.steps(draft.team_id, root) if s.step == draft.step + 1), None)


def ended_empty(uow: UnitOfWork, draft: Draft) -> list[int]:
    """``draft`` (a send or a step) just ended: if its next step is still WAITING nobody got this one, so that
    step and every later one has nobody to go to — they end now, empty (SENT). Returns their ids."""
    root = draft.root_id
    if root is None or not has_next_step(draft):
        return []
    later = [s for s in uow.drafts.steps(draft.team_id, root) if s.step > draft.step]
    if not later or later[0].status is not DraftStatus.WAITING:
        return []
    ended = []
    for step in later:
        assert step.id is not None
        if uow.drafts.set_status(draft.team_id, step.id, DraftStatus.SENT, only_from=DraftStatus.WAITING):
            ended.append(step.id)
    return ended


def due_after(sent_at: datetime, step: Draft) -> datetime:
    return sent_at + timedelta(days=step.delay_days)


# -- when a step falls due --------------------------------------------------------------------------------------
def load_facts(uow: UnitOfWork, step: Draft, mpids: Collection[str]) -> dict[str, FollowupFacts]:
    """What decides the step for each of ``mpids``: the previous step's delivery to them, their latest reply,
    the workspace's latest contact with them (four reads, whatever the number of partners)."""
    assert step.parent_id is not None
    team_id = step.team_id
    previous_id: int | None = step.parent_id
    if step.step > 1:
        previous_id = next(
            (s.id for s in uow.drafts.steps(team_id, step.parent_id) if s.step == step.step - 1), None
        )
    sent = uow.deliveries.sent_to(team_id, previous_id, mpids) if previous_id is not None else {}
    replies = uow.threads.last_replies(team_id, mpids)
    contacts = uow.prospects.contacts(team_id, mpids)
    facts = {}
    for mpid in mpids:
        delivery = sent.get(mpid)
        contacted_at, contacted_by = contacts.get(mpid, (None, ""))
        facts[mpid] = FollowupFacts(
            mpid,
            previous_sent_at=delivery.sent_at if delivery else None,
            previous_message_id=delivery.provider_message_id if delivery else "",
            last_reply_at=replies.get(mpid),
            last_contacted_at=contacted_at,
            last_contacted_by=contacted_by,
        )
    return facts


def skip_reason(facts: FollowupFacts, *, author_id: str, channel: Channel, suppressed: str = "") -> str:
    """Why the step does not go to this partner now ("" when it goes). ``suppressed``: the suppression list's
    reason for their address (``bounced``, ``unsubscribed``), if it is on it."""
    since = facts.previous_sent_at
    if since is None:
        return SKIP_NOT_SENT_BEFORE
    if facts.last_reply_at is not None and facts.last_reply_at > since:
        return SKIP_REPLIED
    if suppressed and channel is Channel.EMAIL:
        return SKIP_BOUNCED if suppressed == "bounced" else SKIP_UNSUBSCRIBED
    if suppressed == "unsubscribed":
        return SKIP_UNSUBSCRIBED
    at, by = facts.last_contacted_at, facts.last_contacted_by
    if at is not None and at > since and by and by != author_id:
        return SKIP_TEAMMATE
    return ""


def thread_headers(facts: FollowupFacts | None) -> tuple[tuple[str, str], ...]:
    """``In-Reply-To``/``References`` of an e-mail step: the previous e-mail's Message-ID, when it has one."""
    mid = facts.previous_message_id.strip() if facts else ""
    if not (mid.startswith("<") and mid.endswith(">")) or any(c in mid for c in "\r\n"):
        return ()
    return (("In-Reply-To", mid), ("References", mid))


def event_for(
    step: Draft, mpid: str, at: datetime, *, sent_text: str = "", skipped: str = ""
) -> ConversationEvent:
    """The conversation event of one partner's outcome of a step: sent (with its text) or skipped (why)."""
    return ConversationEvent(
        team_id=step.team_id,
        mpid=mpid,
        author_id=step.author_id,
        kind=EventKind.FOLLOWUP_SKIPPED if skipped else EventKind.FOLLOWUP_SENT,
        channel=step.channel,
        at=at,
        text=sent_text,
        draft_id=step.id,
        detail=skipped,
    )


# -- cancelling -------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Cancelled:
    """What Cancel stopped: ``steps`` not sent any more, ``deliveries`` of started steps not made."""

    root_id: int
    steps: tuple[int, ...]
    deliveries: int


class FollowupService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def steps(self, team_id: str, author_id: str, draft_id: int) -> tuple[Draft, ...]:
        """Every step of the send ``draft_id`` (or of the send a step belongs to), in order: the author's send
        only (NotFound otherwise)."""
        with self._uow() as uow:
            root = self._root(uow, team_id, author_id, draft_id)
            assert root.id is not None
            return tuple(uow.drafts.steps(team_id, root.id))

    def remaining(self, team_id: str, author_id: str, draft_id: int) -> tuple[Draft, ...]:
        """The send's steps still to come or going."""
        return tuple(s for s in self.steps(team_id, author_id, draft_id) if s.status in PENDING_STEP)

    def cancel(self, team_id: str, author_id: str, draft_id: int) -> Cancelled:
        """Stop the send's remaining steps (``draft_id``: the send or one of its steps). Raises NotFound."""
        with self._uow() as uow:
            root = self._root(uow, team_id, author_id, draft_id)
            assert root.id is not None
            stopped: list[int] = []
            skipped = 0
            for step in uow.drafts.steps(team_id, root.id):
                assert step.id is not None
                for status in (DraftStatus.WAITING, DraftStatus.SENDING):
                    # A conditional move: a worker closing the step at the same moment keeps it closed.
                    if uow.drafts.set_status(team_id, step.id, DraftStatus.CANCELLED, only_from=status):
                        stopped.append(step.id)
                        if status is DraftStatus.SENDING:
                            skipped += uow.queue.cancel_pending(team_id, step.id, SKIP_CANCELLED)
                        break
            if stopped:
                uow.audit.record(
                    AuditEvent(
                        team_id,
                        author_id,
                        "followups.cancelled",
                        self._clock.now(),
                        draft_id=root.id,
                        detail=f"{len(stopped)} step(s), {skipped} delivery(ies) not made",
                    )
                )
            uow.commit()
        return Cancelled(root.id, tuple(stopped), skipped)

    @staticmethod
    def _root(uow: UnitOfWork, team_id: str, author_id: str, draft_id: int) -> Draft:
        draft = uow.drafts.get(team_id, draft_id)
        if draft is not None and draft.parent_id is not None:
            draft = uow.drafts.get(team_id, draft.parent_id)
        if draft is None or draft.author_id != author_id:
            raise NotFound("draft", str(draft_id))
        return draft
